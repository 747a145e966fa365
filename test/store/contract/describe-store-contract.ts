/**
 * The store contract suite: every store implementation (SQLite: sqlite.test.ts; PostgreSQL:
 * postgres.test.ts) must pass it. It asserts
 * the behaviour the SQLite bodies in src/store/*.ts define, from the outside of the parts.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Store } from "../../../src/store/contract.js";
import { migrations } from "../../../src/store/migrations.js";

/** Both implementations are the async `Store` itself (nested `tx` = savepoint). */
export type ContractStore = Store;

const T0 = Date.UTC(2026, 10, 22, 12, 0, 0);
const MIN = 60_000;
const DAY = 86_400_000;
const usage = (costUsd: number, promptTokens = 10) => ({
  promptTokens,
  cachedTokens: 1,
  completionTokens: 2,
  costUsd,
});

export function describeStoreContract(name: string, open: () => Promise<ContractStore>): void {
  describe(`store contract: ${name}`, () => {
    let s: ContractStore;
    beforeEach(async () => {
      s = await open();
    });
    afterEach(async () => {
      await s.close();
    });

    describe("tasks: enqueue and dedup", () => {
      it("creates one open task per (repo, type, source), case-insensitively on the repository", async () => {
        const a = await s.tasks.enqueue(
          { repo: "Org/Repo", type: "tech_debt_analysis", source: "issue:1" },
          T0,
        );
        expect(a.outcome).toBe("created");
        expect(a.task).toMatchObject({
          repo: "Org/Repo",
          status: "pending",
          attempts: 0,
          nextRunAt: T0,
        });
        const b = await s.tasks.enqueue(
          { repo: "org/repo", type: "tech_debt_analysis", source: "issue:1" },
          T0,
        );
        expect(b.outcome).toBe("merged");
        expect(b.task.id).toBe(a.task.id);
        const c = await s.tasks.enqueue(
          { repo: "org/repo", type: "tech_debt_analysis", source: "issue:2" },
          T0,
        );
        expect(c.outcome).toBe("created");
        expect((await s.tasks.open("ORG/REPO", "tech_debt_analysis", "issue:1"))?.id).toBe(
          a.task.id,
        );
      });

      it("a pending duplicate takes the new payload, the earlier run time and the higher priority", async () => {
        const a = await s.tasks.enqueue(
          {
            repo: "o/r",
            type: "fix",
            source: "issue:3",
            payload: { v: 1 },
            runAt: T0 + 10 * MIN,
            priority: 1,
          },
          T0,
        );
        const b = await s.tasks.enqueue(
          {
            repo: "o/r",
            type: "fix",
            source: "issue:3",
            payload: { v: 2 },
            runAt: T0 + 20 * MIN,
            priority: 5,
            contentHash: "h2",
          },
          T0 + 1,
        );
        expect(b.outcome).toBe("merged");
        expect(b.task).toMatchObject({
          id: a.task.id,
          payload: { v: 2 },
          contentHash: "h2",
          nextRunAt: T0 + 10 * MIN,
          priority: 5,
        });
        const c = await s.tasks.enqueue(
          { repo: "o/r", type: "fix", source: "issue:3", runAt: T0 + MIN, priority: 2 },
          T0 + 2,
        );
        expect(c.task).toMatchObject({ nextRunAt: T0 + MIN, priority: 5 });
      });

      it("the same content hash is unchanged; a running task gets a follow-up only for new content", async () => {
        const a = await s.tasks.enqueue(
          { repo: "o/r", type: "fix", source: "issue:4", contentHash: "h1" },
          T0,
        );
        expect(
          (
            await s.tasks.enqueue(
              { repo: "o/r", type: "fix", source: "issue:4", contentHash: "h1" },
              T0,
            )
          ).outcome,
        ).toBe("unchanged");
        await s.tasks.claim({ owner: "w", leaseMs: MIN, limit: 10, now: T0 });
        const same = await s.tasks.enqueue(
          { repo: "o/r", type: "fix", source: "issue:4", contentHash: "h1" },
          T0,
        );
        expect(same).toMatchObject({ outcome: "unchanged" });
        expect(same.task.id).toBe(a.task.id);
        const next = await s.tasks.enqueue(
          { repo: "o/r", type: "fix", source: "issue:4", contentHash: "h2" },
          T0,
        );
        expect(next.outcome).toBe("created");
        expect(next.task.id).not.toBe(a.task.id);
        expect((await s.tasks.get(a.task.id))?.status).toBe("running");
        expect((await s.tasks.open("o/r", "fix", "issue:4"))?.id).toBe(next.task.id);
        // The parked running task still completes, and a later enqueue merges into the follow-up.
        expect(await s.tasks.complete(a.task.id, "w", { ok: true }, T0 + 1)).toBe(true);
        expect(
          (
            await s.tasks.enqueue(
              { repo: "o/r", type: "fix", source: "issue:4", contentHash: "h3" },
              T0,
            )
          ).task.id,
        ).toBe(next.task.id);
      });

      it("a finished task frees its key; latestBySource finds the newest in any status", async () => {
        const a = await s.tasks.enqueue({ repo: "o/r", type: "command", source: "comment:1" }, T0);
        await s.tasks.claim({ owner: "w", leaseMs: MIN, limit: 1, now: T0 });
        await s.tasks.complete(a.task.id, null, null, T0);
        const b = await s.tasks.enqueue({ repo: "o/r", type: "command", source: "comment:1" }, T0);
        expect(b.outcome).toBe("created");
        expect((await s.tasks.latestBySource("O/R", "command", "comment:1"))?.id).toBe(b.task.id);
        expect(await s.tasks.latestBySource("o/r", "command", "comment:9")).toBeUndefined();
      });

      it("getMany reads the tasks that exist of many ids at once, by id", async () => {
        const a = await s.tasks.enqueue({ repo: "o/r", type: "command", source: "gm:1" }, T0);
        const b = await s.tasks.enqueue({ repo: "o/r", type: "command", source: "gm:2" }, T0);
        const got = await s.tasks.getMany([b.task.id, 999_999, a.task.id, b.task.id]);
        expect(got.map((t) => [t.id, t.source])).toEqual([
          [a.task.id, "gm:1"],
          [b.task.id, "gm:2"],
        ]);
        expect(got[0]).toEqual(await s.tasks.get(a.task.id));
        expect(await s.tasks.getMany([])).toEqual([]);
      });

      it("cancel and cancelPending by repo, type and source", async () => {
        await s.tasks.enqueue({ repo: "o/r", type: "fix", source: "issue:1" }, T0);
        await s.tasks.enqueue({ repo: "o/r", type: "fix", source: "issue:2" }, T0);
        await s.tasks.enqueue({ repo: "o/r", type: "automerge", source: "pr:1" }, T0);
        await s.tasks.enqueue({ repo: "o/other", type: "fix", source: "issue:1" }, T0);
        const running = await s.tasks.claim({
          owner: "w",
          leaseMs: MIN,
          limit: 1,
          types: ["automerge"],
          now: T0,
        });
        expect(running).toHaveLength(1);
        expect(
          await s.tasks.cancelPending(
            { repo: "O/R", type: "fix", source: "issue:1" },
            "closed",
            T0,
          ),
        ).toBe(1);
        expect(await s.tasks.cancelPending({ repo: "o/r", type: "automerge" }, "closed", T0)).toBe(
          0,
        );
        expect(await s.tasks.cancel({ repo: "o/r" }, "removed", T0)).toBe(2);
        const all = await s.tasks.list({ repo: "o/r" });
        expect(all.map((t) => t.status).sort()).toEqual(["cancelled", "cancelled", "cancelled"]);
        expect(all.find((t) => t.type === "automerge")).toMatchObject({
          leaseOwner: null,
          lastError: "removed",
        });
        expect((await s.tasks.list({ repo: "o/other" }))[0]?.status).toBe("pending");
        // Cancelled tasks free the key.
        expect(
          (await s.tasks.enqueue({ repo: "o/r", type: "fix", source: "issue:1" }, T0)).outcome,
        ).toBe("created");
      });
    });

    describe("tasks: claims, leases, retries", () => {
      it("claims due tasks in priority order, then by run time and id, with a lease", async () => {
        await s.tasks.enqueue(
          { repo: "o/r", type: "prompt_task", source: "a", priority: 1, runAt: T0 - 2 },
          T0,
        );
        await s.tasks.enqueue(
          { repo: "o/r", type: "prompt_task", source: "b", priority: 9, runAt: T0 - 1 },
          T0,
        );
        await s.tasks.enqueue(
          { repo: "o/r", type: "prompt_task", source: "c", priority: 1, runAt: T0 - 3 },
          T0,
        );
        await s.tasks.enqueue(
          { repo: "o/r", type: "prompt_task", source: "later", priority: 9, runAt: T0 + MIN },
          T0,
        );
        const got = await s.tasks.claim({ owner: "w1", leaseMs: 5 * MIN, limit: 10, now: T0 });
        expect(got.map((t) => t.source)).toEqual(["b", "c", "a"]);
        expect(got[0]).toMatchObject({
          status: "running",
          leaseOwner: "w1",
          leaseExpiresAt: T0 + 5 * MIN,
          attempts: 1,
        });
        expect(await s.tasks.claim({ owner: "w2", leaseMs: MIN, limit: 10, now: T0 })).toEqual([]);
      });

      it("honours limit, repo, repos, types and minPriority", async () => {
        await s.tasks.enqueue({ repo: "a/one", type: "fix", source: "1", priority: 3 }, T0);
        await s.tasks.enqueue({ repo: "a/two", type: "fix", source: "2", priority: 3 }, T0);
        await s.tasks.enqueue({ repo: "a/two", type: "automerge", source: "3", priority: 7 }, T0);
        await s.tasks.enqueue({ repo: "a/three", type: "command", source: "4", priority: 1 }, T0);
        expect(
          (await s.tasks.claim({ owner: "w", leaseMs: MIN, limit: 1, now: T0 })).map(
            (t) => t.source,
          ),
        ).toEqual(["3"]);
        expect(
          (await s.tasks.claim({ owner: "w", leaseMs: MIN, limit: 5, repo: "A/ONE", now: T0 })).map(
            (t) => t.source,
          ),
        ).toEqual(["1"]);
        expect(
          await s.tasks.claim({ owner: "w", leaseMs: MIN, limit: 5, repos: [], now: T0 }),
        ).toEqual([]);
        expect(
          await s.tasks.claim({
            owner: "w",
            leaseMs: MIN,
            limit: 5,
            types: ["fix"],
            minPriority: 4,
            now: T0,
          }),
        ).toEqual([]);
        expect(
          (
            await s.tasks.claim({
              owner: "w",
              leaseMs: MIN,
              limit: 5,
              repos: ["a/two", "a/three"],
              types: ["fix", "command"],
              now: T0,
            })
          ).map((t) => t.source),
        ).toEqual(["2", "4"]);
      });

      it("an expired lease makes a running task claimable again; heartbeats extend it for the owner only", async () => {
        const { task } = await s.tasks.enqueue({ repo: "o/r", type: "fix", source: "x" }, T0);
        await s.tasks.claim({ owner: "w1", leaseMs: MIN, limit: 1, now: T0 });
        expect(await s.tasks.heartbeat([task.id], "w2", MIN, T0 + 30_000)).toBe(0);
        expect(await s.tasks.heartbeat([task.id], "w1", MIN, T0 + 30_000)).toBe(1);
        expect(await s.tasks.claim({ owner: "w2", leaseMs: MIN, limit: 1, now: T0 + MIN })).toEqual(
          [],
        );
        const again = await s.tasks.claim({
          owner: "w2",
          leaseMs: MIN,
          limit: 1,
          now: T0 + 90_000,
        });
        expect(again).toHaveLength(1);
        expect(again[0]).toMatchObject({ leaseOwner: "w2", attempts: 2 });
        expect(await s.tasks.complete(task.id, "w1", "late", T0 + 91_000)).toBe(false);
        expect(await s.tasks.complete(task.id, "w2", { n: 1 }, T0 + 91_000)).toBe(true);
        expect(await s.tasks.complete(task.id, "w2", { n: 1 }, T0 + 91_000)).toBe(false);
        expect(await s.tasks.get(task.id)).toMatchObject({
          status: "done",
          result: '{"n":1}',
          leaseOwner: null,
        });
      });

      it("completeMany completes a claimed batch with each task's result, only where the lease is held", async () => {
        const ids: number[] = [];
        for (const src of ["a", "b", "c", "d"])
          ids.push((await s.tasks.enqueue({ repo: "o/r", type: "fix", source: src }, T0)).task.id);
        const [a, b, c, d] = ids as [number, number, number, number];
        await s.tasks.claim({ owner: "w1", leaseMs: MIN, limit: 3, now: T0 });
        await s.tasks.claim({ owner: "w2", leaseMs: MIN, limit: 1, now: T0 });
        expect(await s.tasks.completeMany([], "w1", T0)).toEqual([]);
        const done = await s.tasks.completeMany(
          [
            { id: c, result: { skipped: "nothing to do" } },
            { id: a, result: { pr: 7 } },
            { id: d, result: "not mine" }, // held by w2
            { id: 999_999, result: null },
          ],
          "w1",
          T0 + 5,
        );
        expect(done).toEqual([c, a]);
        expect(await s.tasks.get(a)).toMatchObject({
          status: "done",
          result: '{"pr":7}',
          leaseOwner: null,
          leaseExpiresAt: null,
          updatedAt: T0 + 5,
        });
        expect((await s.tasks.get(c))?.result).toBe('{"skipped":"nothing to do"}');
        expect(await s.tasks.get(b)).toMatchObject({ status: "running", leaseOwner: "w1" });
        expect(await s.tasks.get(d)).toMatchObject({ status: "running", leaseOwner: "w2" });
        // Repeated: nothing left to complete. Without an owner, any holder's task.
        expect(await s.tasks.completeMany([{ id: a, result: null }], "w1", T0)).toEqual([]);
        expect(await s.tasks.completeMany([{ id: d, result: null }], null, T0)).toEqual([d]);
        // Completed tasks free their keys.
        expect((await s.tasks.enqueue({ repo: "o/r", type: "fix", source: "a" }, T0)).outcome).toBe(
          "created",
        );
      });

      it("fail backs off exponentially, then fails for good; retryAt keeps the attempt; permanent fails now", async () => {
        const { task } = await s.tasks.enqueue(
          { repo: "o/r", type: "fix", source: "x", maxAttempts: 3 },
          T0,
        );
        await s.tasks.claim({ owner: "w", leaseMs: MIN, limit: 1, now: T0 });
        expect(await s.tasks.fail(task.id, "other", "boom", {}, T0)).toBe("running");
        expect(await s.tasks.fail(task.id, "w", "boom", {}, T0)).toBe("pending");
        expect(await s.tasks.get(task.id)).toMatchObject({
          nextRunAt: T0 + 30_000,
          attempts: 1,
          lastError: "boom",
          leaseOwner: null,
        });
        await s.tasks.claim({ owner: "w", leaseMs: MIN, limit: 1, now: T0 + 30_000 });
        expect(await s.tasks.fail(task.id, "w", "boom", { retryAt: T0 + DAY }, T0 + 30_000)).toBe(
          "pending",
        );
        expect(await s.tasks.get(task.id)).toMatchObject({ nextRunAt: T0 + DAY, attempts: 1 });
        await s.tasks.claim({ owner: "w", leaseMs: MIN, limit: 1, now: T0 + DAY });
        expect(await s.tasks.fail(task.id, null, "boom2", {}, T0 + DAY)).toBe("pending");
        expect((await s.tasks.get(task.id))?.nextRunAt).toBe(T0 + DAY + 60_000);
        await s.tasks.claim({ owner: "w", leaseMs: MIN, limit: 1, now: T0 + 2 * DAY });
        expect(await s.tasks.fail(task.id, "w", "x".repeat(5000), {}, T0 + 2 * DAY)).toBe("failed");
        expect((await s.tasks.get(task.id))?.lastError).toHaveLength(4000);
        expect(await s.tasks.fail(task.id, "w", "again")).toBe("failed");
        expect(await s.tasks.fail(999_999, "w", "none")).toBeUndefined();
        // Failed frees the key.
        expect((await s.tasks.enqueue({ repo: "o/r", type: "fix", source: "x" }, T0)).outcome).toBe(
          "created",
        );
        const p = await s.tasks.enqueue({ repo: "o/r", type: "fix", source: "perm" }, T0);
        await s.tasks.claim({
          owner: "w",
          leaseMs: MIN,
          limit: 1,
          types: ["fix"],
          repo: "o/r",
          now: T0 - 1 + 1,
        });
        expect(await s.tasks.fail(p.task.id, "w", "no", { permanent: true }, T0)).toBe(
          (await s.tasks.get(p.task.id))?.status === "running" ? "failed" : "pending",
        );
      });

      it("release puts tasks back without an attempt; wake makes pending tasks due", async () => {
        const a = await s.tasks.enqueue({ repo: "o/r", type: "fix", source: "a" }, T0);
        const b = await s.tasks.enqueue(
          { repo: "o/r", type: "fix", source: "b", runAt: T0 + DAY },
          T0,
        );
        await s.tasks.claim({ owner: "w", leaseMs: MIN, limit: 5, now: T0 });
        await s.tasks.release([a.task.id], "other", T0 + MIN, T0);
        expect((await s.tasks.get(a.task.id))?.status).toBe("running");
        await s.tasks.release([a.task.id], "w", T0 + MIN, T0);
        expect(await s.tasks.get(a.task.id)).toMatchObject({
          status: "pending",
          attempts: 0,
          nextRunAt: T0 + MIN,
          leaseOwner: null,
        });
        await s.tasks.wake([b.task.id, a.task.id], T0 + 5);
        expect((await s.tasks.get(b.task.id))?.nextRunAt).toBe(T0 + 5);
        expect((await s.tasks.get(a.task.id))?.nextRunAt).toBe(T0 + 5);
        await s.tasks.wake([], T0);
      });

      it("list, counts, dueRepos and oldestPendingAge", async () => {
        await s.tasks.enqueue({ repo: "B/r", type: "fix", source: "1", runAt: T0 - 5000 }, T0);
        await s.tasks.enqueue({ repo: "a/r", type: "fix", source: "2", runAt: T0 + DAY }, T0);
        await s.tasks.enqueue({ repo: "b/R", type: "command", source: "3", runAt: T0 - 1000 }, T0);
        expect((await s.tasks.list()).map((t) => t.source)).toEqual(["3", "2", "1"]);
        expect((await s.tasks.list({ repo: "b/r", type: "fix" })).map((t) => t.source)).toEqual([
          "1",
        ]);
        expect((await s.tasks.list({ limit: 1, offset: 1 })).map((t) => t.source)).toEqual(["2"]);
        const counts = await s.tasks.counts();
        expect(counts.map((c) => [c.repo.toLowerCase(), c.type, c.status, c.count])).toEqual([
          ["a/r", "fix", "pending", 1],
          ["b/r", "command", "pending", 1],
          ["b/r", "fix", "pending", 1],
        ]);
        expect(await s.tasks.counts("B/R")).toHaveLength(2);
        expect((await s.tasks.dueRepos(T0)).map((r) => r.toLowerCase())).toEqual(["b/r"]);
        expect(await s.tasks.dueRepos(T0, ["automerge"])).toEqual([]);
        expect(await s.tasks.oldestPendingAge(T0)).toBe(5000);
        expect(await s.tasks.oldestPendingAge(T0 - DAY)).toBe(0);
      });
    });

    describe("deliveries, repositories, activity", () => {
      it("records a delivery once; forget lets a redelivery through; outcome, counts, prune", async () => {
        expect(
          await s.deliveries.record(
            { id: "d1", event: "issues", action: "opened", repo: "o/r" },
            T0,
          ),
        ).toBe(true);
        expect(await s.deliveries.record({ id: "d1", event: "issues" }, T0)).toBe(false);
        expect(await s.deliveries.has("d1")).toBe(true);
        await s.deliveries.setOutcome("d1", "queued");
        await s.deliveries.record({ id: "d2", event: "push" }, T0 - DAY);
        expect(await s.deliveries.countsByEvent()).toEqual([
          { event: "issues", count: 1 },
          { event: "push", count: 1 },
        ]);
        await s.deliveries.forget("d1");
        expect(await s.deliveries.has("d1")).toBe(false);
        expect(await s.deliveries.record({ id: "d1", event: "issues" }, T0)).toBe(true);
        expect(await s.deliveries.prune(T0 - 1)).toBe(1);
        expect(await s.deliveries.has("d2")).toBe(false);
      });

      it("repositories: upsert keeps known fields, names are case-insensitive, config cache and reports", async () => {
        await s.repos.upsert(
          { fullName: "Org/Repo", repoId: 1, installationId: 7, defaultBranch: "main" },
          T0,
        );
        await s.repos.upsert({ fullName: "org/repo", installationId: null }, T0 + 1);
        await s.repos.upsert({ fullName: "org/two", installationId: 7 }, T0);
        await s.repos.upsert({ fullName: "x/y", installationId: 8 }, T0);
        expect(await s.repos.get("ORG/REPO")).toMatchObject({
          fullName: "Org/Repo",
          repoId: 1,
          installationId: 7,
          defaultBranch: "main",
          installed: true,
        });
        expect((await s.repos.installationIds()).sort()).toEqual([7, 8]);
        expect(await s.repos.staleConfigRepos()).toEqual(["Org/Repo", "org/two", "x/y"]);
        await s.repos.setConfig(
          "org/repo",
          { json: '{"a":1}', hash: "h", valid: false, errors: ["bad key"] },
          T0,
        );
        expect(await s.repos.get("Org/Repo")).toMatchObject({
          configJson: '{"a":1}',
          configValid: false,
          configErrors: ["bad key"],
          configLoadedAt: T0,
        });
        expect(await s.repos.brief("org/REPO")).toMatchObject({
          fullName: "Org/Repo",
          configHash: "h",
          configValid: false,
        });
        expect(await s.repos.markConfigReported("org/repo", "h")).toBe(true);
        expect(await s.repos.markConfigReported("org/repo", "h")).toBe(false);
        await s.repos.invalidateConfig("ORG/repo");
        expect((await s.repos.get("org/repo"))?.configLoadedAt).toBeNull();
        expect((await s.repos.forgetInstallation(7, T0)).sort()).toEqual(["Org/Repo", "org/two"]);
        expect((await s.repos.list({ installedOnly: true })).map((r) => r.fullName)).toEqual([
          "x/y",
        ]);
        await s.repos.forget(["X/Y"]);
        expect(await s.repos.list({ installedOnly: true })).toEqual([]);
        expect(await s.repos.list()).toHaveLength(3);
        expect(await s.repos.get("none/such")).toBeUndefined();
      });

      it("activity: the latest human wins, pauses (global too) expire by themselves", async () => {
        await s.activity.recordHuman("o/r", "alice", T0);
        await s.activity.recordHuman("O/R", "bob", T0 - 10);
        expect(await s.activity.get("o/r")).toMatchObject({
          lastHumanAt: T0,
          lastHumanLogin: "alice",
          paused: false,
        });
        expect(await s.activity.isActive("o/r", MIN, T0 + 1000)).toBe(true);
        expect(await s.activity.isActive("o/r", MIN, T0 + 2 * MIN)).toBe(false);
        await s.activity.pause("o/r", "carol", T0 + MIN, "release");
        expect(await s.activity.manualPause("o/R", T0)).toMatchObject({
          pausedBy: "carol",
          pausedReason: "release",
        });
        expect(await s.activity.manualPause("o/r", T0 + MIN)).toBeNull();
        expect((await s.activity.get("o/r")).paused).toBe(false);
        await s.activity.pause("*", "admin", null);
        expect((await s.activity.manualPause("a/b", T0))?.repo).toBe("*");
        expect(await s.activity.resume("*")).toBe(true);
        expect(await s.activity.resume("*")).toBe(false);
        expect((await s.activity.list()).map((a) => a.repo)).toEqual(["*", "o/r"]);
        expect(await s.activity.get("new/repo")).toMatchObject({
          repo: "new/repo",
          paused: false,
          lastHumanAt: null,
        });
      });
    });

    describe("audit, batches, runs, analyses", () => {
      it("audit: write returns ids, bySource finds the newest, list pages newest first per repo", async () => {
        const base = {
          actor: "alice",
          target: "issue:1",
          command: "pause",
          args: null,
          result: "ok",
          deliveryId: "d",
        };
        const a = await s.audit.write({ ...base, repo: "o/r", at: T0, source: "comment:1#0" });
        const b = await s.audit.write({ ...base, repo: "O/R", at: T0 + 1, source: "comment:1#0" });
        await s.audit.write({ ...base, repo: "x/y", at: T0 + 2 });
        expect(b).toBeGreaterThan(a);
        expect(await s.audit.bySource("comment:1#0")).toMatchObject({
          id: b,
          deliveryId: "d",
          actor: "alice",
        });
        expect(await s.audit.bySource("nope")).toBeUndefined();
        expect((await s.audit.list({ repo: "o/r" })).map((e) => e.id)).toEqual([b, a]);
        expect((await s.audit.list({ limit: 1, offset: 1 })).map((e) => e.id)).toEqual([b]);
      });

      it("batches: start with tasks, usage, finish, external status, submitted, paging", async () => {
        const id = await s.batches.start(
          {
            repo: "o/r",
            type: "tech_debt_analysis",
            provider: "openai",
            model: "m",
            taskIds: [3, 1, 1],
          },
          T0,
        );
        expect(await s.batches.taskIds(id)).toEqual([1, 3]);
        await s.batches.addUsage(id, usage(0.5));
        await s.batches.addUsage(id, usage(0.25));
        await s.batches.setExternalId(id, "batch_abc");
        await s.batches.finish(id, "submitted", null, T0 + 1);
        expect(await s.batches.get(id)).toMatchObject({
          items: 3,
          promptTokens: 20,
          costUsd: 0.75,
          externalId: "batch_abc",
          status: "submitted",
          finishedAt: null,
        });
        expect((await s.batches.submitted("O/R")).map((b) => b.id)).toEqual([id]);
        const id2 = await s.batches.start(
          { repo: "o/r", type: "tech_debt_analysis", taskIds: [1], externalId: "batch_2" },
          T0 + 5,
        );
        await s.batches.finish(id2, "done", null, T0 + 6);
        expect(await s.batches.externalStatus([1, 3, 9])).toEqual(
          new Map([
            [1, { batchId: id2, status: "done" }],
            [3, { batchId: id, status: "submitted" }],
          ]),
        );
        const rec = await s.batches.record({
          repo: "x/y",
          type: "fix",
          provider: null,
          model: null,
          status: "failed",
          items: 1,
          promptTokens: 1,
          cachedTokens: 0,
          completionTokens: 0,
          costUsd: 0,
          error: "e",
          startedAt: T0 + 9,
          finishedAt: T0 + 10,
        });
        expect(await s.batches.lastId()).toBe(rec);
        expect((await s.batches.after(id)).map((b) => b.id)).toEqual([id2, rec]);
        expect((await s.batches.list({ repo: "o/r" })).map((b) => b.id)).toEqual([id2, id]);
        expect((await s.batches.list({ limit: 1 })).map((b) => b.id)).toEqual([rec]);
      });

      it("runs: record, finish adds usage, keyset pages, latestFor, after, count", async () => {
        const ids: number[] = [];
        for (let i = 0; i < 5; i++) {
          ids.push(
            await s.runs.record(
              {
                repo: i % 2 ? "a/b" : "o/r",
                kind: "analysis",
                ref: `issue:${i}`,
                status: "running",
                finishedAt: null,
              },
              T0 + i,
            ),
          );
        }
        await s.runs.finish(
          ids[0]!,
          "ok",
          { summary: "done", usage: usage(0.1), url: "https://x" },
          T0 + 100,
        );
        await s.runs.finish(ids[0]!, "ok", { usage: usage(0.2) }, T0 + 101);
        const r = await s.runs.byId(ids[0]!);
        expect(r).toMatchObject({
          status: "ok",
          summary: "done",
          url: "https://x",
          promptTokens: 20,
          finishedAt: T0 + 101,
          repo: "o/r",
          ref: "issue:0",
        });
        expect(r?.costUsd).toBeCloseTo(0.3);
        expect((await s.runs.list({ repo: "O/R" })).map((x) => x.id)).toEqual([
          ids[4],
          ids[2],
          ids[0],
        ]);
        expect((await s.runs.list({ limit: 2, beforeId: ids[3]! })).map((x) => x.id)).toEqual([
          ids[2],
          ids[1],
        ]);
        expect((await s.runs.list({ ref: "issue:1", kind: "analysis" })).map((x) => x.id)).toEqual([
          ids[1],
        ]);
        expect((await s.runs.latestFor("a/b", "issue:3"))?.id).toBe(ids[3]);
        expect((await s.runs.after(ids[2]!)).map((x) => x.id)).toEqual([ids[3], ids[4]]);
        expect(await s.runs.lastId()).toBe(ids[4]);
        expect(await s.runs.count()).toBe(5);
        expect(await s.runs.count("a/B")).toBe(2);
        expect((await s.runs.explainList({ repo: "o/r" })).length).toBeGreaterThan(0);
      });

      it("analyses: save upserts and keeps a reported comment url; isCurrent by hash; list per repo", async () => {
        const a = {
          key: "o/r#1",
          repo: "o/r",
          source: "github" as const,
          contentHash: "h1",
          shouldFix: true,
          complexity: "low" as const,
          plan: "p",
          affectedFiles: ["a.ts"],
          batchId: null,
          commentUrl: "https://c",
        };
        await s.analyses.save({ ...a, analysedAt: T0 });
        await s.analyses.save({
          ...a,
          contentHash: "h2",
          commentUrl: null,
          shouldFix: false,
          analysedAt: T0 + 1,
        });
        expect(await s.analyses.get("o/r#1")).toMatchObject({
          contentHash: "h2",
          commentUrl: "https://c",
          shouldFix: false,
          affectedFiles: ["a.ts"],
        });
        expect(await s.analyses.isCurrent("o/r#1", "h2")).toBe(true);
        expect(await s.analyses.isCurrent("o/r#1", "h1")).toBe(false);
        expect(await s.analyses.analysedHash("none")).toBeUndefined();
        await s.analyses.setCommentUrl("o/r#1", null);
        expect((await s.analyses.get("o/r#1"))?.commentUrl).toBeNull();
        await s.analyses.save({ ...a, key: "x/y#2", repo: "x/y", analysedAt: T0 + 5 });
        expect((await s.analyses.list()).map((x) => x.key)).toEqual(["x/y#2", "o/r#1"]);
        expect((await s.analyses.list("O/R")).map((x) => x.key)).toEqual(["o/r#1"]);
      });
    });

    describe("proposals, schedules, automerge", () => {
      it("proposals: one per content; new content expires the open one; a rejection sticks; expireStale", async () => {
        const p1 = await s.proposals.propose(
          { repo: "o/r", kind: "fix", target: "issue:1", contentHash: "h1", payload: { a: 1 } },
          T0,
        );
        expect(p1).toMatchObject({ status: "proposed", payload: { a: 1 }, createdAt: T0 });
        expect(
          (
            await s.proposals.propose({
              repo: "O/R",
              kind: "fix",
              target: "issue:1",
              contentHash: "h1",
            })
          ).id,
        ).toBe(p1.id);
        const p2 = await s.proposals.propose(
          { repo: "o/r", kind: "fix", target: "issue:1", contentHash: "h2" },
          T0 + 1,
        );
        expect((await s.proposals.get(p1.id))?.status).toBe("expired");
        expect(await s.proposals.decide(p2.id, "rejected", "bob", "no", T0 + 2)).toBe(true);
        expect(await s.proposals.decide(p2.id, "approved", "bob")).toBe(false);
        expect(
          (
            await s.proposals.propose({
              repo: "o/r",
              kind: "fix",
              target: "issue:1",
              contentHash: "h2",
            })
          ).status,
        ).toBe("rejected");
        const p3 = await s.proposals.propose(
          { repo: "o/r", kind: "task", target: "issue:1", contentHash: "h3" },
          T0 + 3,
        );
        expect((await s.proposals.latest("o/r", "issue:1"))?.id).toBe(p3.id);
        expect((await s.proposals.latest("o/r", "issue:1", "fix"))?.id).toBe(p2.id);
        expect(await s.proposals.expireStale("o/r", "task", "issue:1", "h3", T0)).toBe(0);
        expect(await s.proposals.expireStale("o/r", "task", "issue:1", "h4", T0)).toBe(1);
        expect(await s.proposals.get(p3.id)).toMatchObject({
          status: "expired",
          decidedBy: "bg-agent",
        });
        expect((await s.proposals.list({ repo: "o/r", kind: "fix" })).map((p) => p.id)).toEqual([
          p2.id,
          p1.id,
        ]);
        expect(await s.proposals.list({ status: "proposed" })).toEqual([]);
      });

      it("schedules: upsert keeps run state unless the spec changed; due, dueRows, dueRepos, counts, update, removeMissing", async () => {
        const a = await s.schedules.upsert(
          {
            repo: "o/r",
            name: "nightly",
            spec: { x: 1 },
            specHash: "s1",
            nextRunAt: T0,
            maxRuns: null,
          },
          T0,
        );
        expect(a).toMatchObject({
          status: "active",
          origin: "config",
          nextRunAt: T0,
          spec: { x: 1 },
          runCount: 0,
        });
        await s.schedules.update(
          a.id,
          {
            nextRunAt: T0 + DAY,
            runCount: 2,
            lastRunAt: T0,
            statusReason: "why",
            spec: { x: 1, y: 2 },
          },
          T0,
        );
        const same = await s.schedules.upsert(
          {
            repo: "O/R",
            name: "nightly",
            spec: { x: 1 },
            specHash: "s1",
            status: "paused",
            nextRunAt: T0,
            maxRuns: 3,
          },
          T0,
        );
        expect(same).toMatchObject({
          id: a.id,
          status: "active",
          nextRunAt: T0 + DAY,
          runCount: 2,
          maxRuns: 3,
          statusReason: "why",
          lastRunAt: T0,
        });
        const changed = await s.schedules.upsert(
          {
            repo: "o/r",
            name: "nightly",
            spec: { x: 2 },
            specHash: "s2",
            status: "paused",
            nextRunAt: T0 + 5,
            maxRuns: 3,
          },
          T0,
        );
        expect(changed).toMatchObject({ status: "paused", nextRunAt: T0 + 5, spec: { x: 2 } });
        const b = await s.schedules.create(
          {
            repo: "a/b",
            name: "weekly",
            spec: {},
            specHash: "w",
            origin: "proposed",
            status: "active",
            nextRunAt: T0 - 1,
            maxRuns: 1,
          },
          T0,
        );
        await s.schedules.create(
          {
            repo: "a/b",
            name: "cfg",
            spec: {},
            specHash: "c",
            origin: "config",
            status: "active",
            nextRunAt: T0 + DAY,
            maxRuns: null,
          },
          T0,
        );
        expect((await s.schedules.due(T0)).map((x) => x.id)).toEqual([b.id]);
        expect(await s.schedules.dueRows(T0)).toEqual([
          { id: b.id, repo: "a/b", name: "weekly", nextRunAt: T0 - 1 },
        ]);
        expect(await s.schedules.due(T0, 10, "o/r")).toEqual([]);
        expect(await s.schedules.dueRepos(T0)).toEqual(["a/b"]);
        expect(await s.schedules.counts()).toEqual({ active: 2, paused: 1 });
        expect(await s.schedules.counts("A/B")).toEqual({ active: 2 });
        expect((await s.schedules.list()).map((x) => `${x.repo}/${x.name}`)).toEqual([
          "a/b/cfg",
          "a/b/weekly",
          "o/r/nightly",
        ]);
        expect(await s.schedules.removeMissing("a/b", ["weekly"])).toBe(1);
        expect(await s.schedules.removeMissing("o/r", [])).toBe(1);
        expect((await s.schedules.get("a/b", "weekly"))?.id).toBe(b.id);
        expect(await s.schedules.delete(b.id)).toBe(true);
        expect(await s.schedules.byId(b.id)).toBeUndefined();
        const plans = await s.schedules.explainDue();
        expect(plans.global.length).toBeGreaterThan(0);
      });

      it("automerge: save upserts per (repo, pr); waiting lists the open states", async () => {
        const c = [{ id: "ci", met: false, detail: "pending" }];
        await s.automerge.save({
          repo: "o/r",
          pr: 1,
          headSha: "a",
          state: "waiting",
          firstUnmet: "ci",
          conditions: c,
          evaluatedAt: T0,
        });
        await s.automerge.save({
          repo: "O/R",
          pr: 1,
          headSha: "b",
          state: "blocked",
          firstUnmet: null,
          conditions: [],
          evaluatedAt: T0 + 1,
        });
        await s.automerge.save({
          repo: "o/r",
          pr: 2,
          headSha: "c",
          state: "merged",
          firstUnmet: null,
          conditions: c,
          evaluatedAt: T0 + 2,
        });
        expect(await s.automerge.get("o/r", 1)).toMatchObject({
          headSha: "b",
          state: "blocked",
          conditions: [],
        });
        expect((await s.automerge.waiting()).map((x) => x.pr)).toEqual([1]);
        expect(await s.automerge.waiting("x/y")).toEqual([]);
        expect((await s.automerge.get("o/r", 2))?.conditions).toEqual(c);
      });

      it("automerge: the check run's signature survives a save without one; merges per base keep the latest", async () => {
        const base = { repo: "o/r", pr: 3, headSha: "a", firstUnmet: null, conditions: [] };
        await s.automerge.save({ ...base, state: "waiting", checkSignature: "sig-1" });
        expect((await s.automerge.get("o/r", 3))?.checkSignature).toBe("sig-1");
        await s.automerge.save({ ...base, state: "closed" });
        expect(await s.automerge.get("O/R", 3)).toMatchObject({
          state: "closed",
          checkSignature: "sig-1",
        });
        await s.automerge.save({ ...base, state: "waiting", checkSignature: "sig-2" });
        expect((await s.automerge.get("o/r", 3))?.checkSignature).toBe("sig-2");
        expect((await s.automerge.get("o/r", 1))?.checkSignature ?? null).toBeNull();

        expect(await s.automerge.lastMerge("o/r", "main")).toBeUndefined();
        await s.automerge.recordMerge("o/r", "main", T0);
        await s.automerge.recordMerge("O/R", "main", T0 - MIN);
        await s.automerge.recordMerge("o/r", "dev", T0 + 5);
        expect(await s.automerge.lastMerge("O/r", "main")).toBe(T0);
        expect(await s.automerge.lastMerge("o/r", "dev")).toBe(T0 + 5);
        await s.automerge.recordMerge("o/r", "main", T0 + MIN);
        expect(await s.automerge.lastMerge("o/r", "main")).toBe(T0 + MIN);
      });
    });

    describe("pace", () => {
      it("reserve: one at a time spaces starts by the interval, queued in reservation order", async () => {
        const rate = { intervalMs: 1000, burstMs: 1000 };
        const starts = [];
        for (let i = 0; i < 4; i++) starts.push(await s.pace.reserve("gh:1", rate, T0));
        expect(starts).toEqual([T0, T0 + 1000, T0 + 2000, T0 + 3000]);
        // Another key is its own queue; later, the queue has drained.
        expect(await s.pace.reserve("gh:2", rate, T0)).toBe(T0);
        expect(await s.pace.reserve("gh:1", rate, T0 + 10_000)).toBe(T0 + 10_000);
      });

      it("reserve: a per-minute bucket lets a burst through, then one per interval; holdUntil empties it", async () => {
        const rpm2 = { intervalMs: 30_000, burstMs: MIN };
        const at = [];
        for (let i = 0; i < 4; i++) at.push(await s.pace.reserve("llm", rpm2, T0));
        expect(at).toEqual([T0, T0, T0 + 30_000, T0 + MIN]);
        // A 429 at T0 + 2 min asking for 10 s: nothing before then, and the bucket is empty.
        await s.pace.holdUntil("llm", T0 + 2 * MIN + 10_000, MIN);
        expect(await s.pace.reserve("llm", rpm2, T0 + 2 * MIN)).toBe(T0 + 2 * MIN + 40_000);
        // Fractions of a millisecond round up, never down.
        expect(await s.pace.reserve("tok", { intervalMs: 0.2, burstMs: 0 }, T0)).toBe(T0 + 1);
      });

      it("once: one caller per interval", async () => {
        expect(await s.pace.once("sweep", MIN, T0)).toBe(true);
        expect(await s.pace.once("sweep", MIN, T0 + 1)).toBe(false);
        expect(await s.pace.once("sweep", MIN, T0 + MIN - 1)).toBe(false);
        expect(await s.pace.once("other", MIN, T0 + 1)).toBe(true);
        expect(await s.pace.once("sweep", MIN, T0 + MIN)).toBe(true);
        expect(await s.pace.once("sweep", MIN, T0 + MIN + 1)).toBe(false);
      });
    });

    describe("spend and stats", () => {
      it("spend: adds per day, month sums, daily totals, setDay keeps the larger, alerts once", async () => {
        await s.spend.add("o/r", usage(1.5), T0);
        await s.spend.add("O/R", usage(0.5), T0 + 1000);
        await s.spend.add("o/r", usage(2), T0 - DAY);
        await s.spend.add("o/r", usage(4), Date.UTC(2026, 9, 31));
        await s.spend.add("x/y", usage(1), T0);
        expect(await s.spend.today("o/r", T0)).toBeCloseTo(2);
        expect(await s.spend.month("o/r", T0)).toBeCloseTo(4);
        expect(await s.spend.today("none", T0)).toBe(0);
        expect(await s.spend.daily("2026-11-21")).toEqual([
          { day: "2026-11-21", costUsd: 2, calls: 1 },
          { day: "2026-11-22", costUsd: 3, calls: 3 },
        ]);
        expect(await s.spend.daily("2026-11-22", "o/r")).toEqual([
          { day: "2026-11-22", costUsd: 2, calls: 2 },
        ]);
        await s.spend.setDay("o/r", "2026-11-22", 1);
        expect(await s.spend.today("o/r", T0)).toBeCloseTo(2);
        await s.spend.setDay("o/r", "2026-11-22", 9);
        expect(await s.spend.today("o/r", T0)).toBeCloseTo(9);
        expect(await s.spend.markAlert("o/r", "day:2026-11-22", 80, T0)).toBe(true);
        expect(await s.spend.markAlert("O/r", "day:2026-11-22", 80, T0)).toBe(false);
        expect(await s.spend.markAlert("o/r", "day:2026-11-22", 100, T0)).toBe(true);
      });

      it("stats: repository names folded by case, spend by repo, totals, counts, queue age, task count", async () => {
        await s.repos.upsert({ fullName: "Zed/R" }, T0);
        await s.activity.pause("*", "admin", null);
        await s.activity.recordHuman("zed/r", "a", T0);
        await s.tasks.enqueue({ repo: "b/b", type: "fix", source: "1", runAt: T0 - 100 }, T0);
        await s.tasks.enqueue({ repo: "b/b", type: "command", source: "2", runAt: T0 - 50 }, T0);
        await s.spend.add("A/a", usage(1, 100), T0);
        await s.spend.add("A/a", usage(2, 100), Date.UTC(2026, 9, 30));
        await s.schedules.create(
          {
            repo: "c/c",
            name: "n",
            spec: {},
            specHash: "h",
            origin: "config",
            status: "active",
            nextRunAt: null,
            maxRuns: null,
          },
          T0,
        );
        // One name per repository, folded by case (which spelling a group shows is the engine's).
        expect((await s.stats.repoNames()).map((n) => n.toLowerCase())).toEqual([
          "a/a",
          "b/b",
          "c/c",
          "zed/r",
        ]);
        expect(await s.stats.spendByRepo(T0)).toEqual([{ repo: "A/a", todayUsd: 1, monthUsd: 1 }]);
        expect(await s.stats.llmTotals()).toEqual({
          costUsd: 3,
          calls: 2,
          promptTokens: 200,
          cachedTokens: 2,
          completionTokens: 4,
        });
        expect(await s.stats.dailySpend("2026-11-01", "a/A")).toEqual([
          {
            day: "2026-11-22",
            costUsd: 1,
            calls: 1,
            promptTokens: 100,
            cachedTokens: 1,
            completionTokens: 2,
          },
        ]);
        const bid = await s.batches.start({ repo: "b/b", type: "fix", taskIds: [1, 2] }, T0);
        expect(await s.stats.batchCounts()).toEqual([
          { type: "fix", status: "running", count: 1, items: 2 },
        ]);
        await s.runs.record({ repo: "b/b", kind: "analysis", status: "ok" }, T0);
        expect(await s.stats.runCounts()).toEqual([{ kind: "analysis", status: "ok", count: 1 }]);
        await s.automerge.save({
          repo: "b/b",
          pr: 1,
          headSha: null,
          state: "waiting",
          firstUnmet: null,
          conditions: [],
        });
        expect(await s.stats.automergeCounts()).toEqual([{ state: "waiting", count: 1 }]);
        expect(await s.stats.queueAgeByType(T0)).toEqual([
          { type: "command", ageMs: 50 },
          { type: "fix", ageMs: 100 },
        ]);
        expect((await s.stats.batches({ repo: "B/B" })).map((b) => b.id)).toEqual([bid]);
        expect(await s.stats.taskCount()).toBe(2);
        expect(await s.stats.taskCount({ repo: "B/B", type: "fix", status: "pending" })).toBe(1);
      });
    });

    describe("sessions", () => {
      it("a revoked session is refused until it would have expired; revoking twice is harmless", async () => {
        await s.sessions.revoke({ sid: "s1", login: "octo", expiresAt: T0 + DAY }, T0);
        await s.sessions.revoke({ sid: "s1", login: "octo", expiresAt: T0 + DAY }, T0 + 1);
        expect(await s.sessions.isRevoked("s1", T0 + MIN)).toBe(true);
        expect(await s.sessions.isRevoked("s2", T0 + MIN)).toBe(false);
        expect(await s.sessions.isRevoked("s1", T0 + DAY)).toBe(false);
        expect(await s.sessions.prune(T0 + DAY)).toBe(1);
      });
    });

    describe("report deliveries", () => {
      it("records outcomes; failing lists the newest per (task, target) unless it was delivered since", async () => {
        const base = { repo: "o/r", task: "nightly", attempts: 3, error: null, runId: null };
        await s.reports.record({ ...base, target: "slack:A", status: "failed", error: "500" }, T0);
        await s.reports.record({ ...base, target: "slack:A", status: "delivered" }, T0 + 1);
        await s.reports.record({ ...base, target: "webhook:B", status: "unset" }, T0 + 2);
        expect((await s.reports.recent("O/R")).map((d) => d.target)).toEqual([
          "webhook:B",
          "slack:A",
          "slack:A",
        ]);
        expect((await s.reports.failing("o/r")).map((d) => [d.target, d.status])).toEqual([
          ["webhook:B", "unset"],
        ]);
      });
    });

    describe("retention", () => {
      it("steps delete only old finished rows, at most `limit` per step; pending counts agree", async () => {
        const policy = { days: 10, auditDays: 30 };
        const now = T0 + 100 * DAY;
        const old = T0;
        for (let i = 0; i < 3; i++)
          await s.runs.record(
            { repo: "o/r", kind: "analysis", status: "ok", startedAt: old, finishedAt: old + 1 },
            old,
          );
        await s.runs.record(
          { repo: "o/r", kind: "analysis", status: "running", startedAt: old, finishedAt: null },
          old,
        );
        const done = await s.tasks.enqueue({ repo: "o/r", type: "fix", source: "done" }, old);
        await s.tasks.claim({ owner: "w", leaseMs: MIN, limit: 1, now: old });
        await s.tasks.complete(done.task.id, "w", null, old);
        await s.tasks.enqueue({ repo: "o/r", type: "fix", source: "pending" }, old);
        const b = await s.batches.start({ repo: "o/r", type: "fix", taskIds: [done.task.id] }, old);
        await s.batches.finish(b, "done", null, old);
        await s.batches.start({ repo: "o/r", type: "fix", taskIds: [] }, old);
        await s.deliveries.record({ id: "old", event: "push" }, old);
        await s.deliveries.record({ id: "new", event: "push" }, now - DAY);
        await s.audit.write({
          actor: "a",
          repo: "o/r",
          target: null,
          command: "c",
          args: null,
          result: "ok",
          deliveryId: null,
          at: old,
        });
        expect(await s.retention.pending(policy, now)).toEqual({
          runs: 3,
          tasks: 1,
          batches: 1,
          deliveries: 1,
          audit: 1,
        });
        const c = await s.retention.cutoffs(policy, now);
        expect(c.deliveries).toBe(now - 10 * DAY);
        expect((await s.retention.cutoffs({ days: 1, auditDays: 1 }, now)).deliveries).toBe(
          now - 7 * DAY,
        );
        expect(await s.retention.step("runs", c.runs, 2)).toBe(2);
        expect(await s.retention.step("runs", c.runs, 2)).toBe(1);
        expect(await s.retention.step("runs", c.runs, 2)).toBe(0);
        expect(await s.retention.step("tasks", c.tasks, 10)).toBe(1);
        expect(await s.retention.step("batches", c.batches, 10)).toBe(1);
        expect(await s.batches.taskIds(b)).toEqual([]);
        expect(await s.retention.step("deliveries", c.deliveries, 10)).toBe(1);
        expect(await s.retention.step("audit", c.audit, 10)).toBe(1);
        expect(await s.retention.pending(policy, now)).toEqual({
          runs: 0,
          tasks: 0,
          batches: 0,
          deliveries: 0,
          audit: 0,
        });
        expect(await s.runs.count()).toBe(1);
        expect(await s.tasks.list()).toHaveLength(1);
        expect(await s.deliveries.has("new")).toBe(true);
      });
    });

    describe("transactions", () => {
      it("commits together, rolls back everything on throw", async () => {
        await s.tx(async (t) => {
          await t.deliveries.record({ id: "tx1", event: "issues" }, T0);
          await t.tasks.enqueue({ repo: "o/r", type: "fix", source: "a" }, T0);
        });
        await expect(
          s.tx(async (t) => {
            await t.deliveries.record({ id: "tx2", event: "issues" }, T0);
            await t.tasks.enqueue({ repo: "o/r", type: "fix", source: "b" }, T0);
            throw new Error("handler failed");
          }),
        ).rejects.toThrow("handler failed");
        expect(await s.deliveries.has("tx1")).toBe(true);
        expect(await s.deliveries.has("tx2")).toBe(false);
        expect((await s.tasks.list()).map((t) => t.source)).toEqual(["a"]);
      });

      it("a nested transaction rolls back alone; parts that use transactions inside work within one", async () => {
        const out = await s.tx(async (t) => {
          await t.audit.write({
            actor: "a",
            repo: "o/r",
            target: null,
            command: "outer",
            args: null,
            result: "ok",
            deliveryId: null,
          });
          await expect(
            t.tx(async (u) => {
              await u.audit.write({
                actor: "a",
                repo: "o/r",
                target: null,
                command: "inner",
                args: null,
                result: "ok",
                deliveryId: null,
              });
              throw new Error("inner failed");
            }),
          ).rejects.toThrow("inner failed");
          const id = await t.batches.start({ repo: "o/r", type: "fix", taskIds: [1, 2] }, T0);
          const p = await t.proposals.propose(
            { repo: "o/r", kind: "fix", target: "issue:1", contentHash: "h" },
            T0,
          );
          await t.tasks.enqueue({ repo: "o/r", type: "fix", source: "x" }, T0);
          const [claimed] = await t.tasks.claim({ owner: "w", leaseMs: MIN, limit: 1, now: T0 });
          expect(await t.tasks.fail(claimed!.id, "w", "e", {}, T0)).toBe("pending");
          return { id, p: p.id };
        });
        expect((await s.audit.list()).map((e) => e.command)).toEqual(["outer"]);
        expect(await s.batches.taskIds(out.id)).toEqual([1, 2]);
        expect((await s.proposals.get(out.p))?.status).toBe("proposed");
        expect((await s.tasks.list())[0]).toMatchObject({ status: "pending", attempts: 1 });
      });

      it("a failing statement inside a part's own transaction leaves the outer one usable after the throw is caught", async () => {
        await s.tx(async (t) => {
          await t.tasks.enqueue({ repo: "o/r", type: "fix", source: "ok" }, T0);
          // A retention step is its own (nested) transaction; a bad table name makes it throw.
          // (PostgreSQL throws on the unknown table; SQLite's step finds nothing to delete.)
          await t.retention.step("nope" as "runs", 0, 1).catch(() => 0);
          await t.tasks.enqueue({ repo: "o/r", type: "fix", source: "after" }, T0);
        });
        expect((await s.tasks.list()).map((x) => x.source).sort()).toEqual(["after", "ok"]);
      });

      it("nested transactions started together take turns: the failing one undoes only its own writes", async () => {
        const enqueue = (t: { tasks: Store["tasks"] }, source: string) =>
          t.tasks.enqueue({ repo: "o/r", type: "fix", source }, T0);
        await s.tx(async (t) => {
          const results = await Promise.allSettled([
            t.tx(async (u) => {
              await enqueue(u, "first");
              await u.tx(async (v) => enqueue(v, "first-inner"));
            }),
            t.tx(async (u) => {
              await enqueue(u, "second");
              throw new Error("second failed");
            }),
            t.tx(async (u) => enqueue(u, "third")),
          ]);
          expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
        });
        expect((await s.tasks.list()).map((x) => x.source).sort()).toEqual([
          "first",
          "first-inner",
          "third",
        ]);
      });

      it("a call through a transaction's handle after it ended is refused, not run outside it", async () => {
        let kept: { tasks: Store["tasks"] } | undefined;
        await s.tx(async (t) => {
          kept = t;
          await t.tasks.enqueue({ repo: "o/r", type: "fix", source: "inside" }, T0);
        });
        await expect(
          kept!.tasks.enqueue({ repo: "o/r", type: "fix", source: "late" }, T0),
        ).rejects.toThrow(/transaction that has ended/);
        expect((await s.tasks.list()).map((x) => x.source)).toEqual(["inside"]);
      });

      it("reports its schema version", async () => {
        expect(await s.schemaVersion?.()).toBe(migrations.length);
      });
    });
  });
}

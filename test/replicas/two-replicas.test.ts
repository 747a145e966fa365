import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dropSchema, postgresAvailable, throwawaySchema } from "../helpers/postgres.js";
import { loopbackGitHub } from "./loopback-github.js";
import type { LoopbackGitHub } from "./loopback-github.js";
import { loopbackLlm } from "./loopback-llm.js";
import type { LoopbackLlm } from "./loopback-llm.js";
import {
  closeDeliveryAgent,
  deliver,
  eventually,
  labelledIssue,
  query,
  startReplica,
} from "./replica-harness.js";
import type { Delivery, Replica } from "./replica-harness.js";

/**
 * Two bg-agent app processes (test/replicas/_replica-app.ts: createBgAgent, as src/main.ts runs
 * it) on one PostgreSQL schema, one loopback GitHub, one loopback LLM. Intake: two replicas with
 * BG_WORKER=off on one schema; workers: two replicas with the worker loop on (a pass every
 * second, 4 s leases) on another, so the intake scenarios' tasks are never worked.
 */

const up = await postgresAvailable();
const LEASE_SECONDS = 4;
const CONFIG = [
  "activity:",
  "  pause_when_active_minutes: 0",
  "rate_limit:",
  "  rpm: 10000",
  "  tpm: 100000000",
  "tech_debt:",
  "  batch_size: 2",
  "",
].join("\n");
const FILES = {
  ".github/bg-agent.yml": CONFIG,
  "README.md": "# service\n\nA small service.\n",
  "src/index.ts": "export const answer = (): number => 42;\n",
};
const MARKER = "<!-- bg-agent:analysis:";

const issue = (n: number) => ({
  number: n,
  title: `Refactor module ${n}`,
  body: `Module ${n} duplicates the queue's retry logic; it should reuse Queue.`,
});

let gh: LoopbackGitHub;
let llm: LoopbackLlm;
const schemas = { intake: throwawaySchema(), workers: throwawaySchema() };
const replicas: Replica[] = [];
let intake: [Replica, Replica];
let workers: [Replica, Replica];

/** The replicas' output, for a failing assertion's message. */
const logs = (): string =>
  replicas.map((r) => `--- replica ${r.name}\n${r.output().slice(-4000)}`).join("\n");

/** Adds `n` tech-debt issues to a repository on the loopback GitHub; their deliveries. */
function seed(repo: string, from: number, n: number): Delivery[] {
  return Array.from({ length: n }, (_, i) => {
    const it = issue(from + i);
    gh.issue(repo, { ...it, labels: ["tech-debt"] });
    return labelledIssue(repo, it);
  });
}

/** Sends deliveries with `inFlight` at a time, the i-th to replica i % 2. */
async function spread(
  to: [Replica, Replica],
  list: Delivery[],
  inFlight = 16,
): Promise<{ status: number; body: Record<string, unknown> }[]> {
  const answers: { status: number; body: Record<string, unknown> }[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < list.length) {
        const i = next++;
        answers[i] = await deliver(to[i % 2]!.port, list[i]!);
      }
    }),
  );
  return answers;
}

describe.skipIf(!up)("two replicas on one PostgreSQL schema", () => {
  beforeAll(async () => {
    gh = await loopbackGitHub();
    llm = await loopbackLlm({ delayMs: 150 });
    const base = { githubUrl: gh.url };
    const worker = (name: string) => ({
      BG_WORKER: "on",
      BG_TICK_SECONDS: "1",
      BG_LEASE_SECONDS: String(LEASE_SECONDS),
      BG_SWEEP_MINUTES: "60",
      BG_LLM_PROVIDER: "openai",
      BG_LLM_MODEL: "gpt-4o-mini",
      BG_LLM_API_KEY: "sk-replicas",
      BG_LLM_BASE_URL: llm.baseUrl(name),
      BG_LLM_RPM: "10000",
      BG_LLM_TPM: "100000000",
    });
    const started = await Promise.allSettled([
      startReplica("intake-a", { ...base, schema: schemas.intake, settings: { BG_WORKER: "off" } }),
      startReplica("intake-b", { ...base, schema: schemas.intake, settings: { BG_WORKER: "off" } }),
      startReplica("worker-a", { ...base, schema: schemas.workers, settings: worker("worker-a") }),
      startReplica("worker-b", { ...base, schema: schemas.workers, settings: worker("worker-b") }),
    ]);
    for (const s of started) if (s.status === "fulfilled") replicas.push(s.value);
    const failed = started.find((s) => s.status === "rejected");
    if (failed) throw failed.reason;
    intake = [replicas[0]!, replicas[1]!];
    workers = [replicas[2]!, replicas[3]!];
  }, 60_000);

  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    closeDeliveryAgent();
    await gh?.close();
    await llm?.close();
    for (const s of Object.values(schemas)) await dropSchema(s);
  }, 30_000);

  describe("intake (BG_WORKER=off on both)", () => {
    it("the same delivery id POSTed to both at once gives one task and one record; a later redelivery is a duplicate", async () => {
      const repo = "acme/same-id";
      gh.repo(repo, FILES);
      const list = seed(repo, 1, 10);
      // Each delivery to both replicas in the same instant.
      const answers = await Promise.all(
        list.map((d) => Promise.all(intake.map((r) => deliver(r.port, d)))),
      );
      for (const pair of answers) {
        expect(
          pair.map((a) => a.status),
          logs(),
        ).toEqual([200, 200]);
        // What a replica may answer: handled, or a duplicate of the one the other handled.
        for (const a of pair) expect(a.body.ok).toBe(true);
      }
      const tasks = await query<{ source: string; delivery_id: string }>(
        schemas.intake,
        "SELECT source, delivery_id FROM tasks WHERE repo = $1 ORDER BY id",
        [repo],
      );
      expect(tasks.map((t) => t.source).sort()).toEqual(
        list.map((_, i) => `issue:${i + 1}`).sort(),
      );
      expect(new Set(tasks.map((t) => t.delivery_id))).toEqual(new Set(list.map((d) => d.id)));
      const records = await query<{ id: string; n: number }>(
        schemas.intake,
        "SELECT id, COUNT(*)::int AS n FROM deliveries WHERE id = ANY($1::text[]) GROUP BY id",
        [list.map((d) => d.id)],
      );
      expect(records).toHaveLength(10);
      expect(records.every((r) => r.n === 1)).toBe(true);

      // GitHub's redelivery of an id both have seen, to either replica: a duplicate, no new task.
      for (const [i, d] of list.slice(0, 4).entries()) {
        const again = await deliver(intake[i % 2]!.port, d);
        expect(again).toEqual({ status: 200, body: { ok: true, duplicate: true } });
      }
      const after = await query<{ n: number }>(
        schemas.intake,
        "SELECT COUNT(*)::int AS n FROM tasks WHERE repo = $1",
        [repo],
      );
      expect(after[0]!.n).toBe(10);
    });

    it("300 deliveries spread over both give 300 tasks and 300 records", async () => {
      const repos = Array.from({ length: 10 }, (_, i) => `acme/spread-${i}`);
      for (const r of repos) gh.repo(r, FILES);
      const list = Array.from({ length: 30 }, (_, k) =>
        repos.flatMap((r) => seed(r, k + 1, 1)),
      ).flat();
      expect(list).toHaveLength(300);
      const answers = await spread(intake, list);
      expect(
        answers.filter((a) => a.status !== 200 || a.body.duplicate !== undefined),
        logs(),
      ).toEqual([]);
      const tasks = await query<{ repo: string; source: string; delivery_id: string }>(
        schemas.intake,
        "SELECT repo, source, delivery_id FROM tasks WHERE repo = ANY($1::text[])",
        [repos],
      );
      expect(tasks).toHaveLength(300);
      expect(new Set(tasks.map((t) => `${t.repo} ${t.source}`)).size).toBe(300);
      expect(new Set(tasks.map((t) => t.delivery_id))).toEqual(new Set(list.map((d) => d.id)));
      const records = await query<{ n: number }>(
        schemas.intake,
        "SELECT COUNT(*)::int AS n FROM deliveries WHERE id = ANY($1::text[])",
        [list.map((d) => d.id)],
      );
      expect(records[0]!.n).toBe(300);
    });
  });

  describe("workers (BG_WORKER=on on both, a pass every second)", () => {
    /** Each issue's analysis comments and the POSTs that created them. */
    const commentsOn = (repo: string, n: number) => ({
      comments: gh.commentsWith(repo, n, `${MARKER}${repo}#${n} -->`).length,
      posts: gh.requests.filter(
        (r) => r.method === "POST" && r.path === `/repos/${repo}/issues/${n}/comments`,
      ).length,
    });

    it("20 tech-debt issues delivered to both: each analysed once, one comment each, none twice", async () => {
      const repos = Array.from({ length: 4 }, (_, i) => `acme/work-${i}`);
      for (const r of repos) gh.repo(r, FILES);
      const list = repos.flatMap((r) => seed(r, 1, 5));
      const answers = await spread(workers, list, 4);
      expect(
        answers.every((a) => a.status === 200 && a.body.ok === true),
        logs(),
      ).toBe(true);

      const done = await eventually(
        "20 analyses done",
        async () => {
          const rows = await query<{ status: string; attempts: number }>(
            schemas.workers,
            "SELECT status, attempts::int AS attempts FROM tasks WHERE repo = ANY($1::text[])",
            [repos],
          );
          return rows.length === 20 && rows.every((r) => r.status === "done") ? rows : undefined;
        },
        30_000,
      ).catch((e: unknown) => {
        throw new Error(`${String(e)}\n${logs()}`);
      });
      // Claimed once each: no task was worked by both replicas.
      expect(done.map((t) => t.attempts)).toEqual(Array(20).fill(1));
      for (const r of repos)
        for (let n = 1; n <= 5; n++)
          expect(commentsOn(r, n), `${r}#${n}`).toEqual({ comments: 1, posts: 1 });
      // Every issue was sent to the LLM once (which replica took which is up to the locks and claims).
      const keys = llm.calls.filter((c) => c.keys.some((k) => k.startsWith("acme/work-")));
      expect(keys.flatMap((c) => c.keys).sort()).toEqual(
        repos.flatMap((r) => [1, 2, 3, 4, 5].map((n) => `${r}#${n}`)).sort(),
      );
      expect(gh.unrouted).toEqual([]);
    });

    it("a replica SIGKILLed while its LLM call is in flight: the other finishes its leased tasks after the lease, one comment per issue", async () => {
      const repo = "acme/killed";
      gh.repo(repo, FILES);
      // The first replica to ask the LLM from now on is never answered: it holds its batch.
      const victimName = llm.holdFirstCaller();
      const list = seed(repo, 1, 6);
      const answers = await spread(workers, list, 2);
      expect(
        answers.every((a) => a.status === 200),
        logs(),
      ).toBe(true);
      const name = await victimName;
      const victim = workers.find((r) => r.name === name)!;
      const survivor = workers.find((r) => r.name !== name)!;

      // Its batch is claimed under its lease when it dies.
      const held = await eventually("the victim's claimed batch", async () => {
        const rows = await query<{ id: number; source: string; lease: number }>(
          schemas.workers,
          "SELECT id::int AS id, source, lease_expires_at::float8 AS lease FROM tasks WHERE repo = $1 AND status = 'running' AND starts_with(lease_owner, $2 || '/')",
          [repo, victim.owner],
        );
        return rows.length ? rows : undefined;
      });
      await victim.kill();
      const killedAt = Date.now();
      expect(victim.child.signalCode).toBe("SIGKILL");
      const leaseEnds = Math.max(...held.map((t) => t.lease));
      expect(leaseEnds).toBeGreaterThan(killedAt); // still leased: nobody may take them yet

      const final = await eventually(
        "the six analyses done",
        async () => {
          const rows = await query<{
            id: number;
            status: string;
            attempts: number;
            updated: number;
          }>(
            schemas.workers,
            "SELECT id::int AS id, status, attempts::int AS attempts, updated_at::float8 AS updated FROM tasks WHERE repo = $1",
            [repo],
          );
          return rows.length === 6 && rows.every((r) => r.status === "done") ? rows : undefined;
        },
        30_000,
      ).catch((e: unknown) => {
        throw new Error(`${String(e)}\n${logs()}`);
      });
      // The victim's tasks: claimed a second time (by the survivor), done only after the lease.
      for (const h of held) {
        const t = final.find((f) => f.id === h.id)!;
        expect(t.attempts, h.source).toBe(2);
        expect(t.updated).toBeGreaterThanOrEqual(leaseEnds);
      }
      const calls = llm.calls.filter((c) => c.keys.some((k) => k.startsWith(`${repo}#`)));
      // The victim's calls were never answered; the survivor made every answered one.
      expect(calls.filter((c) => c.replica === victim.name).every((c) => c.held)).toBe(true);
      expect(
        calls
          .filter((c) => !c.held)
          .flatMap((c) => c.keys)
          .sort(),
      ).toEqual(list.map((_, i) => `${repo}#${i + 1}`).sort());
      expect(calls.filter((c) => !c.held).every((c) => c.replica === survivor.name)).toBe(true);
      for (let n = 1; n <= 6; n++)
        expect(commentsOn(repo, n), `${repo}#${n}`).toEqual({ comments: 1, posts: 1 });
      expect(gh.unrouted).toEqual([]);
    });
  });
});

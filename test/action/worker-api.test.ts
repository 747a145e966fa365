import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateKeyPair, SignJWT } from "jose";
import { silentLogger } from "../../src/log.js";
import type { Store } from "../../src/store/index.js";
import { createWorkerApiRoutes, GITHUB_OIDC_ISSUER } from "../../src/web/worker-api.js";
import type { TestIssuer, TestServer } from "../helpers/oidc.js";
import { DEMO_REPO_ID, serveRoutes, testIssuer, workflowClaims } from "../helpers/oidc.js";
import { memoryStore } from "../helpers/store.js";

let issuer: TestIssuer;
beforeAll(async () => {
  issuer = await testIssuer();
});
afterAll(async () => {
  await issuer.close();
});

interface Api {
  store: Store;
  server: TestServer;
  clock: { now: number };
  post(
    path: string,
    body: unknown,
    token?: string,
  ): Promise<{ status: number; json: Record<string, unknown> }>;
}

async function api(): Promise<Api> {
  const store = await memoryStore();
  await store.repos.upsert({ fullName: "octo/demo", repoId: DEMO_REPO_ID, defaultBranch: "main" });
  await store.repos.upsert({
    fullName: "octo/other",
    repoId: DEMO_REPO_ID + 1,
    defaultBranch: "main",
  });
  const clock = { now: Date.parse("2026-03-10T12:00:00Z") };
  const server = await serveRoutes(
    createWorkerApiRoutes({ store, log: silentLogger, jwks: issuer.jwksUrl, now: () => clock.now }),
  );
  return {
    store,
    server,
    clock,
    async post(path, body, token) {
      const res = await fetch(`${server.url}${path}`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify(body),
      });
      return { status: res.status, json: (await res.json()) as Record<string, unknown> };
    },
  };
}

const tokenFor = (repository: string, runId = "100", over: Record<string, unknown> = {}) =>
  issuer.sign(workflowClaims(repository, runId, over));
const enqueue = (a: Api, repo: string, n: number, at: number) =>
  Promise.all(
    Array.from(
      { length: n },
      async (_, i) =>
        (
          await a.store.tasks.enqueue(
            { repo, type: "automerge", source: `pr:${i + 1}`, payload: { pr: i + 1 } },
            at,
          )
        ).task.id,
    ),
  );

describe("the worker API", () => {
  it("hands a runner only its repository's tasks, leased, with the remaining budget", async () => {
    const a = await api();
    await enqueue(a, "octo/demo", 2, a.clock.now);
    await enqueue(a, "octo/other", 2, a.clock.now);
    await a.store.spend.add(
      "octo/demo",
      { promptTokens: 1, cachedTokens: 0, completionTokens: 1, costUsd: 0.25 },
      a.clock.now,
    );
    const r = await a.post("/bg/api/worker/claim", { limit: 10 }, await tokenFor("octo/demo"));
    expect(r.status).toBe(200);
    const tasks = r.json.tasks as { repo: string; source: string }[];
    expect(tasks.map((t) => [t.repo, t.source])).toEqual([
      ["octo/demo", "pr:1"],
      ["octo/demo", "pr:2"],
    ]);
    expect(r.json.owner).toBe("gha:octo/demo:100:1");
    expect(r.json.budget).toEqual({
      dailyUsd: 1,
      monthlyUsd: 20,
      spentTodayUsd: 0.25,
      spentMonthUsd: 0.25,
      remainingUsd: 0.75,
    });
    expect(await a.store.tasks.list({ repo: "octo/demo", status: "running" })).toHaveLength(2);
    expect(await a.store.tasks.list({ repo: "octo/other", status: "pending" })).toHaveLength(2);
    await a.server.close();
  });

  it("refuses a missing token, a token signed by another key, for another audience, or expired", async () => {
    const a = await api();
    const other = await generateKeyPair("RS256");
    const forged = await new SignJWT({ repository: "octo/demo", run_id: "1" })
      .setProtectedHeader({ alg: "RS256", kid: "test-key" })
      .setIssuer(GITHUB_OIDC_ISSUER)
      .setAudience("bg-agent")
      .setExpirationTime("5m")
      .sign(other.privateKey);
    const cases: [string | undefined, RegExp][] = [
      [undefined, /missing Authorization.*id-token: write/],
      [forged, /refused \(ERR_JWS_SIGNATURE_VERIFICATION_FAILED\)/],
      [
        await issuer.sign({ repository: "octo/demo", run_id: "1" }, { audience: "someone-else" }),
        /refused \(ERR_JWT_CLAIM_VALIDATION_FAILED\)/,
      ],
      [
        await issuer.sign({ repository: "octo/demo", run_id: "1" }, { expiresIn: "-10m" }),
        /refused \(ERR_JWT_EXPIRED\)/,
      ],
      [
        await issuer.sign(
          { repository: "octo/demo", run_id: "1" },
          { issuer: "https://evil.example" },
        ),
        /refused/,
      ],
      [await issuer.sign({ run_id: "1" }), /no repository or run_id claim/],
    ];
    for (const [token, message] of cases) {
      const r = await a.post("/bg/api/worker/claim", {}, token);
      expect(r.status).toBe(401);
      expect(String(r.json.error)).toMatch(message);
    }
    await a.server.close();
  });

  it("refuses a token for another repository: it cannot complete or extend this one's tasks", async () => {
    const a = await api();
    const [id] = await enqueue(a, "octo/demo", 1, a.clock.now);
    const mine = await a.post("/bg/api/worker/claim", {}, await tokenFor("octo/demo"));
    expect((mine.json.tasks as unknown[]).length).toBe(1);
    const theirs = await tokenFor("octo/other", "200");
    expect((await a.post("/bg/api/worker/claim", {}, theirs)).json.tasks).toEqual([]);
    const r = await a.post(
      "/bg/api/worker/complete",
      { results: [{ taskId: id, status: "done" }] },
      theirs,
    );
    expect(r.status).toBe(403);
    expect(r.json.error).toMatch(/another repository than octo\/other/);
    expect(
      (await a.post("/bg/api/worker/heartbeat", { taskIds: [id] }, theirs)).json.extended,
    ).toBe(0);
    expect((await a.store.tasks.get(id!))?.status).toBe("running");
    // A repository the app is not installed on gets nothing at all.
    const stranger = await a.post("/bg/api/worker/claim", {}, await tokenFor("evil/repo"));
    expect(stranger.status).toBe(403);
    expect(stranger.json.error).toMatch(/not installed on evil\/repo/);
    await a.server.close();
  });

  it("gives eight concurrent workers disjoint tasks until the queue is empty", async () => {
    const a = await api();
    const all = await enqueue(a, "octo/demo", 40, a.clock.now);
    const got: number[][] = await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        const token = await tokenFor("octo/demo", String(1000 + w));
        const mine: number[] = [];
        for (;;) {
          const r = await a.post("/bg/api/worker/claim", { limit: 3 }, token);
          const ids = (r.json.tasks as { id: number }[]).map((t) => t.id);
          if (!ids.length) return mine;
          mine.push(...ids);
          const done = await a.post(
            "/bg/api/worker/complete",
            { results: ids.map((taskId) => ({ taskId, status: "done" })) },
            token,
          );
          expect((done.json.results as { applied: boolean }[]).every((x) => x.applied)).toBe(true);
        }
      }),
    );
    const flat = got.flat();
    expect(new Set(flat).size).toBe(flat.length);
    expect([...flat].sort((x, y) => x - y)).toEqual(all);
    expect(got.filter((g) => g.length > 0).length).toBeGreaterThan(1);
    expect(await a.store.tasks.counts("octo/demo")).toEqual([
      { repo: "octo/demo", type: "automerge", status: "done", count: 40 },
    ]);
    await a.server.close();
  });

  it("makes a task claimable again when its lease expires; a heartbeat keeps it", async () => {
    const a = await api();
    const [id] = await enqueue(a, "octo/demo", 1, a.clock.now);
    const w1 = await tokenFor("octo/demo", "1");
    const w2 = await tokenFor("octo/demo", "2");
    expect(
      (await a.post("/bg/api/worker/claim", { leaseSeconds: 60 }, w1)).json.tasks,
    ).toHaveLength(1);
    a.clock.now += 50_000;
    expect(
      (await a.post("/bg/api/worker/heartbeat", { taskIds: [id], leaseSeconds: 60 }, w1)).json
        .extended,
    ).toBe(1);
    a.clock.now += 50_000;
    expect((await a.post("/bg/api/worker/claim", {}, w2)).json.tasks).toEqual([]);
    a.clock.now += 61_000; // w1 went quiet
    const again = await a.post("/bg/api/worker/claim", {}, w2);
    expect((again.json.tasks as { id: number }[]).map((t) => t.id)).toEqual([id]);
    // w1 comes back too late: its result is not taken; w2's is.
    const late = await a.post(
      "/bg/api/worker/complete",
      { results: [{ taskId: id, status: "done" }] },
      w1,
    );
    expect(late.json.results).toEqual([{ taskId: id, applied: false, status: "running" }]);
    const ok = await a.post(
      "/bg/api/worker/complete",
      { results: [{ taskId: id, status: "done", result: { merged: true } }] },
      w2,
    );
    expect(ok.json.results).toEqual([{ taskId: id, applied: true, status: "done" }]);
    await a.server.close();
  });

  it("completing twice is harmless: the spend is recorded once", async () => {
    const a = await api();
    const [id] = await enqueue(a, "octo/demo", 1, a.clock.now);
    const t = await tokenFor("octo/demo");
    await a.post("/bg/api/worker/claim", {}, t);
    const body = {
      results: [
        {
          taskId: id,
          status: "done",
          usage: { promptTokens: 100, cachedTokens: 0, completionTokens: 10, costUsd: 0.5 },
        },
      ],
    };
    const first = await a.post("/bg/api/worker/complete", body, t);
    const second = await a.post("/bg/api/worker/complete", body, t);
    expect(first.json.results).toEqual([{ taskId: id, applied: true, status: "done" }]);
    expect(second.status).toBe(200);
    expect(second.json.results).toEqual([{ taskId: id, applied: false, status: "done" }]);
    expect(await a.store.spend.today("octo/demo", a.clock.now)).toBe(0.5);
    expect((second.json.budget as { remainingUsd: number }).remainingUsd).toBe(0.5);
    await a.server.close();
  });

  it("applies retry and failure outcomes like a pass does, and rejects a malformed body", async () => {
    const a = await api();
    const [x, y] = await enqueue(a, "octo/demo", 2, a.clock.now);
    const t = await tokenFor("octo/demo");
    await a.post("/bg/api/worker/claim", {}, t);
    const retryAt = a.clock.now + 3_600_000;
    await a.post(
      "/bg/api/worker/complete",
      {
        results: [
          { taskId: x, status: "retry", retryAt, error: "checks still running" },
          { taskId: y, status: "failed", error: "boom", permanent: true },
        ],
      },
      t,
    );
    expect(await a.store.tasks.get(x!)).toMatchObject({
      status: "pending",
      nextRunAt: retryAt,
      attempts: 0,
      lastError: "checks still running",
    });
    expect(await a.store.tasks.get(y!)).toMatchObject({ status: "failed", lastError: "boom" });
    const bad = await a.post("/bg/api/worker/complete", { results: [{ taskId: "x" }] }, t);
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatch(/invalid body: results\.0\.taskId/);
    await a.server.close();
  });

  it("hands out only commands while the repository is paused by hand", async () => {
    const a = await api();
    await enqueue(a, "octo/demo", 1, a.clock.now);
    await a.store.tasks.enqueue(
      { repo: "octo/demo", type: "command", source: "comment:5", payload: {} },
      a.clock.now,
    );
    await a.store.activity.pause("octo/demo", "alice", null, "release week");
    const r = await a.post("/bg/api/worker/claim", {}, await tokenFor("octo/demo"));
    expect((r.json.tasks as { type: string }[]).map((t) => t.type)).toEqual(["command"]);
    expect(r.json.paused).toEqual({ by: "alice", until: null, reason: "release week" });
    await a.server.close();
  });

  it("keeps what a runner recorded (batches, runs, analyses) under its repository, alongside the results it took", async () => {
    const a = await api();
    const [id, other] = await enqueue(a, "octo/demo", 2, a.clock.now);
    const t = await tokenFor("octo/demo");
    await a.post("/bg/api/worker/claim", { limit: 1 }, t);
    const zero = { promptTokens: 0, cachedTokens: 0, completionTokens: 0, costUsd: 0 };
    const used = { promptTokens: 900, cachedTokens: 600, completionTokens: 40, costUsd: 0.002 };
    const analysis = (key: string) => ({
      key,
      source: "github",
      contentHash: "h1",
      shouldFix: true,
      complexity: "low",
      plan: "Rename the helper.",
      affectedFiles: ["src/a.ts"],
      localBatchId: 3,
      analysedAt: a.clock.now,
      commentUrl: "https://github.com/octo/demo/issues/5#issuecomment-1",
    });
    const records = {
      batches: [
        {
          localId: 3,
          type: "tech_debt_analysis",
          provider: "openai",
          model: "gpt-4o-mini",
          status: "done",
          items: 1,
          ...used,
          error: null,
          startedAt: a.clock.now - 5_000,
          finishedAt: a.clock.now,
        },
      ],
      runs: [
        {
          kind: "analysis",
          ref: "issue:5",
          url: "https://github.com/octo/demo/issues/5",
          taskId: id,
          localBatchId: 3,
          status: "ok",
          summary: "should fix (low)",
          error: null,
          ...used,
          startedAt: a.clock.now - 5_000,
          finishedAt: a.clock.now,
        },
        // Names a task this runner did not complete: kept, without the task.
        {
          ...{ kind: "automerge", ref: "pr:9", url: null, taskId: other, localBatchId: null },
          status: "waiting",
          summary: null,
          error: null,
          ...zero,
          startedAt: a.clock.now,
          finishedAt: a.clock.now,
        },
      ],
      // Another repository's issue: not this runner's to write.
      analyses: [analysis("octo/demo#5"), analysis("octo/other#5")],
    };
    const r = await a.post(
      "/bg/api/worker/complete",
      { results: [{ taskId: id, status: "done" }], records },
      t,
    );
    expect(r.status).toBe(200);
    expect(r.json.records).toEqual({ batches: 1, runs: 2, analyses: 1 });
    const [batch] = await a.store.batches.list({ repo: "octo/demo" });
    expect(batch).toMatchObject({ type: "tech_debt_analysis", costUsd: 0.002, items: 1 });
    expect(await a.store.runs.list({ repo: "octo/demo" })).toMatchObject([
      { kind: "automerge", ref: "pr:9", taskId: null },
      { kind: "analysis", ref: "issue:5", taskId: id, batchId: batch!.id, costUsd: 0.002 },
    ]);
    expect(await a.store.analyses.get("octo/demo#5")).toMatchObject({
      repo: "octo/demo",
      batchId: batch!.id,
      plan: "Rename the helper.",
    });
    expect(await a.store.analyses.get("octo/other#5")).toBeUndefined();
    // Intake now knows this content was analysed: an edit-free redelivery queues nothing.
    expect(await a.store.analyses.isCurrent("octo/demo#5", "h1")).toBe(true);
    await a.server.close();
  });

  it("drops records it cannot keep (a script URL) but still takes the results; no records without a result taken", async () => {
    const a = await api();
    const [id] = await enqueue(a, "octo/demo", 1, a.clock.now);
    const t = await tokenFor("octo/demo");
    await a.post("/bg/api/worker/claim", {}, t);
    const run = {
      kind: "automerge",
      ref: "pr:1",
      url: "javascript:alert(1)",
      taskId: id,
      localBatchId: null,
      status: "merged",
      summary: null,
      error: null,
      promptTokens: 0,
      cachedTokens: 0,
      completionTokens: 0,
      costUsd: 0,
      startedAt: a.clock.now,
      finishedAt: a.clock.now,
    };
    const r = await a.post(
      "/bg/api/worker/complete",
      { results: [{ taskId: id, status: "done" }], records: { runs: [run] } },
      t,
    );
    expect(r.json.results).toEqual([{ taskId: id, applied: true, status: "done" }]);
    expect(String(r.json.recordsError)).toMatch(/runs\.0\.url/);
    // Again, now that the task is done: nothing is taken, so no records either.
    const again = await a.post(
      "/bg/api/worker/complete",
      {
        results: [{ taskId: id, status: "done" }],
        records: { runs: [{ ...run, url: "https://github.com/octo/demo/pull/1" }] },
      },
      t,
    );
    expect(again.json.records).toBeUndefined();
    expect(await a.store.runs.count("octo/demo")).toBe(0);
    await a.server.close();
  });
});

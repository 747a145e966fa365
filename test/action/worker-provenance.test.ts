import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/log.js";
import type { Store } from "../../src/store/index.js";
import { createAdminApi } from "../../src/web/admin-api.js";
import { createWorkerApiRoutes } from "../../src/web/worker-api.js";
import type { TestIssuer, TestServer } from "../helpers/oidc.js";
import { DEMO_REPO_ID, serveRoutes, testIssuer, workflowClaims } from "../helpers/oidc.js";
import { memoryStore } from "../helpers/store.js";

// Connected runners are the configured workflow, nothing else: tokens GitHub really signed (a
// local JWKS stands in for GitHub's) from runs that are not the repository's configured workflow
// on its default branch are refused with a 403 naming the claim, and audited.

const ADMIN = "admin-token";
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
    token: string,
  ): Promise<{ status: number; json: Record<string, unknown> }>;
  audit(): Promise<{ command: string; target: string; result: string; args: string }[]>;
}

async function api(): Promise<Api> {
  const store = await memoryStore();
  await store.repos.upsert({ fullName: "octo/demo", repoId: DEMO_REPO_ID, defaultBranch: "main" });
  const clock = { now: Date.parse("2026-03-10T12:00:00Z") };
  const server = await serveRoutes([
    ...createWorkerApiRoutes({
      store,
      log: silentLogger,
      jwks: issuer.jwksUrl,
      now: () => clock.now,
    }),
    createAdminApi({ store, log: silentLogger, adminToken: ADMIN, now: () => clock.now }),
  ]);
  return {
    store,
    server,
    clock,
    async post(path, body, token) {
      const res = await fetch(`${server.url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify(body),
      });
      return { status: res.status, json: (await res.json()) as Record<string, unknown> };
    },
    async audit() {
      const res = await fetch(`${server.url}/bg/api/audit?repo=octo/demo`, {
        headers: { authorization: `Bearer ${ADMIN}` },
      });
      expect(res.status).toBe(200);
      return ((await res.json()) as { entries: Awaited<ReturnType<Api["audit"]>> }).entries;
    },
  };
}

const token = (over: Record<string, unknown> = {}, runId = "100", o?: { expiresIn?: string }) =>
  issuer.sign(workflowClaims("octo/demo", runId, over), o);
const enqueue = (a: Api, n: number) =>
  Promise.all(
    Array.from(
      { length: n },
      async (_, i) =>
        (
          await a.store.tasks.enqueue(
            { repo: "octo/demo", type: "automerge", source: `pr:${i + 1}`, payload: { pr: i + 1 } },
            a.clock.now,
          )
        ).task.id,
    ),
  );
const wf = (file: string, ref = "refs/heads/main") => `octo/demo/.github/workflows/${file}@${ref}`;

/** Runs that are not the configured workflow on the default branch, and the claim that fails. */
const IMPOSTORS: [string, Record<string, unknown>, string][] = [
  [
    "another branch",
    {
      ref: "refs/heads/feature",
      workflow_ref: wf("bg-agent.yml", "refs/heads/feature"),
      job_workflow_ref: wf("bg-agent.yml", "refs/heads/feature"),
      event_name: "workflow_dispatch",
    },
    "ref",
  ],
  [
    "another workflow file",
    { workflow_ref: wf("ci.yml"), job_workflow_ref: wf("ci.yml") },
    "workflow_ref",
  ],
  [
    "a reusable workflow of someone else",
    { job_workflow_ref: "evil/lib/.github/workflows/x.yml@refs/heads/main" },
    "job_workflow_ref",
  ],
  [
    "a pull_request run",
    {
      ref: "refs/pull/7/merge",
      workflow_ref: wf("bg-agent.yml", "refs/pull/7/merge"),
      job_workflow_ref: wf("bg-agent.yml", "refs/pull/7/merge"),
      event_name: "pull_request",
    },
    "ref",
  ],
  [
    "a pull_request_target run (default branch, PR's event)",
    { event_name: "pull_request_target" },
    "event_name",
  ],
  [
    "an issue_comment run (not in worker.events by default)",
    { event_name: "issue_comment" },
    "event_name",
  ],
  [
    "another repository re-created with the same name",
    { repository_id: String(DEMO_REPO_ID + 99) },
    "repository_id",
  ],
  ["a token without the repository_id claim", { repository_id: undefined }, "repository_id"],
];

describe("the worker API accepts only the configured workflow", () => {
  it("the configured workflow's scheduled run on the default branch is accepted", async () => {
    const a = await api();
    await enqueue(a, 2);
    const r = await a.post("/bg/api/worker/claim", {}, await token());
    expect(r.status).toBe(200);
    expect((r.json.tasks as unknown[]).length).toBe(2);
    const d = await a.post(
      "/bg/api/worker/claim",
      {},
      await token({ event_name: "workflow_dispatch" }, "101"),
    );
    expect(d.status).toBe(200);
    expect(await a.audit()).toEqual([]);
    await a.server.close();
  });

  it.each(IMPOSTORS)(
    "refuses %s (claim, heartbeat, complete): 403 naming the claim, audited once, no task lost or done twice",
    async (_what, over, claim) => {
      const a = await api();
      const ids = await enqueue(a, 2);
      // The real workflow holds one task's lease; the impostor from the same run id tries it all.
      const mine = await a.post("/bg/api/worker/claim", { limit: 1 }, await token());
      expect((mine.json.tasks as unknown[]).length).toBe(1);
      const bad = await token(over);
      const attempts = [
        await a.post("/bg/api/worker/claim", {}, bad),
        await a.post("/bg/api/worker/claim", {}, bad), // a retry loop: audited once
        await a.post("/bg/api/worker/heartbeat", { taskIds: [ids[0]] }, bad),
        await a.post(
          "/bg/api/worker/complete",
          {
            results: [
              {
                taskId: ids[0],
                status: "done",
                usage: { promptTokens: 1, cachedTokens: 0, completionTokens: 1, costUsd: 20 },
              },
            ],
          },
          bad,
        ),
      ];
      for (const r of attempts) {
        expect(r.status).toBe(403);
        expect(String(r.json.error)).toContain(`${claim} `);
      }
      // Lost: 0 (the pending task is still pending, the leased one still running for its owner).
      expect(await a.store.tasks.list({ repo: "octo/demo", status: "pending" })).toHaveLength(1);
      expect(await a.store.tasks.list({ repo: "octo/demo", status: "running" })).toHaveLength(1);
      expect(await a.store.tasks.list({ repo: "octo/demo", status: "done" })).toHaveLength(0);
      expect(await a.store.spend.month("octo/demo", a.clock.now)).toBe(0);
      const audit = await a.audit();
      expect(audit.map((e) => [e.command, e.target])).toEqual([
        ["worker-refused", "/bg/api/worker/complete"],
        ["worker-refused", "/bg/api/worker/heartbeat"],
        ["worker-refused", "/bg/api/worker/claim"],
      ]);
      expect(audit[0]!.result).toContain(`refused (${claim})`);
      expect(JSON.parse(audit[0]!.args)).toMatchObject({ repository: "octo/demo", run_id: "100" });
      await a.server.close();
    },
  );

  it("refuses an expired token replayed after its run (401, audited once), and an unknown repository id", async () => {
    const a = await api();
    await enqueue(a, 1);
    const old = await token({}, "100", { expiresIn: "-10m" });
    for (let i = 0; i < 3; i++) {
      const r = await a.post("/bg/api/worker/claim", {}, old);
      expect(r.status).toBe(401);
      expect(String(r.json.error)).toMatch(/ERR_JWT_EXPIRED/);
    }
    expect(await a.store.tasks.list({ repo: "octo/demo", status: "pending" })).toHaveLength(1);
    const audit = await a.audit();
    expect(audit.map((e) => e.command)).toEqual(["worker-refused"]);
    expect(audit[0]!.result).toMatch(/refused \(exp\)/);

    // A repository whose id bg-agent never learnt cannot be told from a re-created one: refused.
    await a.store.repos.upsert({ fullName: "octo/fresh" });
    const r = await a.post(
      "/bg/api/worker/claim",
      {},
      await issuer.sign(
        workflowClaims("octo/fresh", "300", {
          repository_id: "1",
          workflow_ref: "octo/fresh/.github/workflows/bg-agent.yml@refs/heads/main",
        }),
      ),
    );
    expect(r.status).toBe(403);
    expect(String(r.json.error)).toMatch(/does not know the id of octo\/fresh/);
    await a.server.close();
  });

  it("follows worker.workflow and worker.events from .github/bg-agent.yml", async () => {
    const a = await api();
    await enqueue(a, 1);
    await a.store.repos.setConfig(
      "octo/demo",
      {
        json: JSON.stringify({
          worker: { workflow: ".github/workflows/agent.yaml", events: ["issue_comment"] },
        }),
        hash: "h1",
        valid: true,
        errors: [],
      },
      a.clock.now,
    );
    const theirs = await a.post(
      "/bg/api/worker/claim",
      {},
      await token({
        workflow_ref: wf("agent.yaml"),
        job_workflow_ref: wf("agent.yaml"),
        event_name: "issue_comment",
      }),
    );
    expect(theirs.status).toBe(200);
    expect((theirs.json.tasks as unknown[]).length).toBe(1);
    const old = await a.post("/bg/api/worker/claim", {}, await token({}, "101"));
    expect(old.status).toBe(403);
    expect(String(old.json.error)).toContain(
      "octo/demo/.github/workflows/agent.yaml@refs/heads/main",
    );
    await a.server.close();
  });

  it("caps absurd reported spend at what the budget had left, audits it; the task is done once", async () => {
    // Injects: a complete reporting $9,999 for one task (the budget: $1/day, $0.25 spent).
    const a = await api();
    const [id] = await enqueue(a, 1);
    await a.store.spend.add(
      "octo/demo",
      { promptTokens: 1, cachedTokens: 0, completionTokens: 1, costUsd: 0.25 },
      a.clock.now,
    );
    const t = await token();
    await a.post("/bg/api/worker/claim", {}, t);
    const body = {
      results: [
        {
          taskId: id,
          status: "done",
          usage: { promptTokens: 10, cachedTokens: 0, completionTokens: 10, costUsd: 9999 },
        },
      ],
    };
    const r = await a.post("/bg/api/worker/complete", body, t);
    expect(r.status).toBe(200);
    expect(r.json.spendCapped).toEqual([{ taskId: id, reportedUsd: 9999, recordedUsd: 0.75 }]);
    // Sent again (a retry): applied once, nothing recorded twice.
    const again = await a.post("/bg/api/worker/complete", body, t);
    expect((again.json.results as { applied: boolean }[])[0]!.applied).toBe(false);
    expect(await a.store.spend.today("octo/demo", a.clock.now)).toBeCloseTo(1, 9);
    expect(await a.store.spend.month("octo/demo", a.clock.now)).toBeCloseTo(1, 9);
    expect(await a.store.tasks.list({ repo: "octo/demo", status: "done" })).toHaveLength(1);
    const audit = await a.audit();
    expect(audit.map((e) => [e.command, e.target])).toEqual([
      ["worker-spend-capped", `task:${id}`],
    ]);
    expect(audit[0]!.result).toMatch(/reported \$9999\.0000.*recorded \$0\.7500/);

    // An honest report within the budget is recorded as it is.
    const [next] = await enqueue(a, 1);
    a.clock.now += 86_400_000; // a new day: $1 left today, $19 this month
    const t2 = await token({}, "101");
    await a.post("/bg/api/worker/claim", {}, t2);
    const ok = await a.post(
      "/bg/api/worker/complete",
      {
        results: [
          {
            taskId: next,
            status: "done",
            usage: { promptTokens: 10, cachedTokens: 0, completionTokens: 10, costUsd: 0.4 },
          },
        ],
      },
      t2,
    );
    expect(ok.json.spendCapped).toBeUndefined();
    expect(await a.store.spend.today("octo/demo", a.clock.now)).toBeCloseTo(0.4, 9);
    await a.server.close();
  });
});

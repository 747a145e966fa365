import nock from "nock";
import { afterEach, describe, expect, it, vi } from "vitest";
import { run } from "../../action/src/main.js";
import { silentLogger } from "../../src/log.js";
import type { Store } from "../../src/store/index.js";
import { createWorkerApiRoutes } from "../../src/web/worker-api.js";
import type { Processor, TaskOutcome } from "../../src/core/worker-contract.js";
import type { ActionRun } from "../helpers/action-env.js";
import { actionEnv } from "../helpers/action-env.js";
import { API, nockRepoAndNoConfig } from "../helpers/github-nock.js";
import type { TestIssuer } from "../helpers/oidc.js";
import { DEMO_REPO_ID, serveRoutes, testIssuer, workflowClaims } from "../helpers/oidc.js";
import { memoryStore } from "../helpers/store.js";

// The Action in connected mode against the real worker API, with a local OIDC provider: a run
// that is not the configured workflow is told why it was refused; a run outlasting its token
// gets a fresh one.

let current: ActionRun | undefined;
afterEach(() => {
  current?.restore();
  current = undefined;
  vi.useRealTimers();
  const pending = nock.pendingMocks();
  nock.cleanAll();
  expect(pending).toEqual([]);
});

async function app(claims: Record<string, unknown>): Promise<{
  store: Store;
  issuer: TestIssuer;
  clock: { now: number };
  url: string;
  close(): Promise<void>;
}> {
  const issuer = await testIssuer(claims);
  const store = await memoryStore();
  await store.repos.upsert({ fullName: "octo/demo", repoId: DEMO_REPO_ID, defaultBranch: "main" });
  // 0: the app follows Date.now() (faked or real); else its own clock.
  const clock = { now: 0 };
  const server = await serveRoutes(
    createWorkerApiRoutes({
      store,
      log: silentLogger,
      jwks: issuer.jwksUrl,
      now: () => (clock.now === 0 ? Date.now() : clock.now),
      tokenClock: () => (clock.now === 0 ? Date.now() : clock.now),
    }),
  );
  return {
    store,
    issuer,
    clock,
    url: server.url,
    close: async () => {
      await server.close();
      await issuer.close();
    },
  };
}

const startIn = (url: string, issuer: TestIssuer) =>
  (current = actionEnv(
    { "github-token": "ghs_secret_token", "app-url": url, mode: "automerge" },
    {
      ACTIONS_ID_TOKEN_REQUEST_URL: issuer.tokenRequestUrl,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: "request-token",
    },
  ));

describe("connected runners and provenance", () => {
  it("a run on another branch is refused: the step fails naming `ref`; nothing claimed, audited once", async () => {
    const srv = await app(
      workflowClaims("octo/demo", "4242", {
        ref: "refs/heads/feature",
        workflow_ref: "octo/demo/.github/workflows/bg-agent.yml@refs/heads/feature",
        job_workflow_ref: "octo/demo/.github/workflows/bg-agent.yml@refs/heads/feature",
        event_name: "workflow_dispatch",
      }),
    );
    const task = (
      await srv.store.tasks.enqueue({
        repo: "octo/demo",
        type: "automerge",
        source: "pr:3",
        payload: { pr: 3 },
      })
    ).task;
    const a = startIn(srv.url, srv.issuer);
    nockRepoAndNoConfig(nock(API));
    await run({ processors: [], githubRetries: false });
    expect(a.failed()).toBe(true);
    expect(a.stdout()).toMatch(
      /refused \/bg\/api\/worker\/claim \(403\).*ref refs\/heads\/feature is not the default branch \(refs\/heads\/main\)/,
    );
    expect((await srv.store.tasks.get(task.id))?.status).toBe("pending"); // lost: 0
    expect((await srv.store.audit.list({ repo: "octo/demo" })).map((e) => e.command)).toEqual([
      "worker-refused",
    ]);
    await srv.close();
  });

  it("a run that outlasts its OIDC token gets a fresh one and completes: 0 lost, 0 done twice", async () => {
    // Injects: the app's clock jumps 10 minutes while the batch runs, so the first token (5 minutes)
    // has expired when the runner completes.
    const srv = await app(workflowClaims("octo/demo", "4242"));
    srv.clock.now = Date.now();
    srv.issuer.now = () => srv.clock.now;
    const ids = await Promise.all(
      [1, 2].map(
        async (n) =>
          (
            await srv.store.tasks.enqueue(
              {
                repo: "octo/demo",
                type: "automerge",
                source: `pr:${n}`,
                payload: { pr: n },
              },
              srv.clock.now,
            )
          ).task.id,
      ),
    );
    let processed = 0;
    const slow: Processor = {
      type: "automerge",
      usesLlm: false,
      batchSize: () => 5,
      process(_ctx, tasks) {
        srv.clock.now += 10 * 60_000;
        processed += tasks.length;
        return Promise.resolve(
          new Map<number, TaskOutcome>(tasks.map((t) => [t.id, { status: "done" }])),
        );
      },
    };
    const a = startIn(srv.url, srv.issuer);
    nockRepoAndNoConfig(nock(API));
    await run({ processors: [slow], githubRetries: false });
    expect(a.failed()).toBe(false);
    expect(processed).toBe(2); // done twice: 0
    expect(
      await Promise.all(ids.map(async (id) => (await srv.store.tasks.get(id))?.status)),
    ).toEqual(["done", "done"]); // lost: 0
    expect(srv.issuer.issued).toBe(2);
    // The expired token was GitHub's own, replayed late: audited.
    expect((await srv.store.audit.list({ repo: "octo/demo" })).map((e) => e.result)).toEqual([
      expect.stringMatching(/^refused \(exp\)/),
    ]);
    await srv.close();
  });

  it("a runner replaces a token about to expire before sending it: nothing refused or audited", async () => {
    // Injects: ten minutes pass (for the runner and the app alike) while the batch runs.
    vi.useFakeTimers({ toFake: ["Date"], now: Date.parse("2026-03-10T12:00:00Z") });
    const srv = await app(workflowClaims("octo/demo", "4242"));
    srv.issuer.now = () => Date.now();
    const id = (
      await srv.store.tasks.enqueue({
        repo: "octo/demo",
        type: "automerge",
        source: "pr:1",
        payload: { pr: 1 },
      })
    ).task.id;
    const slow: Processor = {
      type: "automerge",
      usesLlm: false,
      batchSize: () => 5,
      process(_ctx, tasks) {
        vi.setSystemTime(Date.now() + 10 * 60_000);
        return Promise.resolve(
          new Map<number, TaskOutcome>(tasks.map((t) => [t.id, { status: "done" }])),
        );
      },
    };
    const a = startIn(srv.url, srv.issuer);
    nockRepoAndNoConfig(nock(API));
    await run({ processors: [slow], githubRetries: false });
    expect(a.failed()).toBe(false);
    expect((await srv.store.tasks.get(id))?.status).toBe("done");
    expect(srv.issuer.issued).toBe(2);
    expect(await srv.store.audit.list({ repo: "octo/demo" })).toEqual([]);
    await srv.close();
  });
});

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import nock from "nock";
import { afterEach, describe, expect, it } from "vitest";
import { run } from "../../action/src/main.js";
import { silentLogger } from "../../src/log.js";
import { marker, stateBlock } from "../../src/report/markers.js";
import type { Store } from "../../src/store/index.js";
import { createWorkerApiRoutes } from "../../src/web/worker-api.js";
import type { ActionRun } from "../helpers/action-env.js";
import { actionEnv } from "../helpers/action-env.js";
import { fakeLlm } from "../helpers/fake-llm.js";
import { fakeProcessors } from "../helpers/fake-processors.js";
import {
  API,
  dashboardIssue,
  nockComments,
  nockConfigFile,
  nockRepoAndNoConfig,
} from "../helpers/github-nock.js";
import { DEMO_REPO_ID, serveRoutes, testIssuer, workflowClaims } from "../helpers/oidc.js";
import { memoryStore } from "../helpers/store.js";

const usage = { promptTokens: 1000, cachedTokens: 600, completionTokens: 50, costUsd: 0.003 };
let current: ActionRun | undefined;
const start = (inputs: Record<string, string>, env: Record<string, string> = {}) => {
  current = actionEnv(
    { "github-token": "ghs_secret_token", "llm-api-key": "sk-very-secret", ...inputs },
    env,
  );
  return current;
};
afterEach(() => {
  current?.restore();
  current = undefined;
});

const dashboardList = (s: nock.Scope, issues: unknown[]) =>
  s
    .get("/repos/octo/demo/issues")
    .query((q) => q.labels === "bg:dashboard")
    .reply(200, issues);
const debtIssues = (s: nock.Scope, n: number) =>
  s
    .get("/repos/octo/demo/issues")
    .query((q) => q.labels === "tech-debt")
    .reply(
      200,
      Array.from({ length: n }, (_, i) => ({
        number: i + 1,
        title: `debt ${i + 1}`,
        body: "x",
        labels: [],
      })),
    );
const existingDashboard = (s: nock.Scope, state: unknown) => {
  const body = `${marker("dashboard", "main")}\n${stateBlock(state)}`;
  dashboardList(s, [dashboardIssue(7, body)]);
  return body;
};

describe("the Action in standalone mode", () => {
  it("runs the worker, sets the outputs, writes the job summary, and masks the secrets", async () => {
    const a = start({ mode: "all" });
    const llm = fakeLlm(['{"ok":true}'], usage);
    const scope = nockRepoAndNoConfig(nock(API));
    const body = existingDashboard(scope, { v: 1, spend: {}, runs: [] });
    nockComments(scope);
    scope.get("/repos/octo/demo/pulls").query(true).reply(200, []);
    debtIssues(scope, 3);
    let written = "";
    scope
      .get("/repos/octo/demo/issues/7")
      .reply(200, dashboardIssue(7, body))
      .patch("/repos/octo/demo/issues/7", (b: { body: string }) => {
        written = b.body;
        return true;
      })
      .reply(200, { number: 7, html_url: "https://github.com/octo/demo/issues/7" });

    await run({ processors: fakeProcessors(), createLlm: () => llm, githubRetries: false });

    expect(a.failed()).toBe(false);
    const out = a.outputs();
    expect(out).toMatchObject({ analyzed: "3", merged: "0", "cost-usd": "0.003000" });
    const summary = JSON.parse(out["summary-json"]!) as {
      items: { item: string; outcome: string }[];
      tokens: { cached: number };
    };
    expect(summary.items.map((i) => [i.item, i.outcome])).toEqual([
      ["issue:1", "done"],
      ["issue:2", "done"],
      ["issue:3", "done"],
    ]);
    expect(summary.tokens.cached).toBe(600);
    expect(a.summary()).toContain("<h2>bg-agent on octo/demo (all, standalone)</h2>");
    expect(a.summary()).toContain("<td>tech_debt_analysis</td><td>issue:2</td><td>done</td>");
    expect(a.summary()).toContain("runs with its default configuration");
    expect(written).toContain("https://github.com/octo/demo/actions/runs/4242");
    expect(a.stdout()).toContain("::add-mask::ghs_secret_token");
    expect(a.stdout()).toContain("::add-mask::sk-very-secret");
    expect(`${out["summary-json"]}${a.summary()}${written}`).not.toMatch(
      /ghs_secret_token|sk-very-secret/,
    );
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("says in the summary that the budget is spent, exits 0, and never calls the LLM", async () => {
    const a = start({});
    const llm = fakeLlm([]);
    const today = new Date().toISOString().slice(0, 10);
    const scope = nockRepoAndNoConfig(nock(API));
    const body = existingDashboard(scope, { v: 1, spend: { [today]: 1.2 }, runs: [] });
    nockComments(scope);
    scope
      .get("/repos/octo/demo/pulls")
      .query(true)
      .reply(200, [])
      .get("/repos/octo/demo/issues/7")
      .reply(200, dashboardIssue(7, body))
      .patch("/repos/octo/demo/issues/7")
      .reply(200, { number: 7, html_url: "https://github.com/octo/demo/issues/7" });

    await run({ processors: fakeProcessors(), createLlm: () => llm, githubRetries: false });

    expect(a.failed()).toBe(false);
    expect(llm.calls).toHaveLength(0);
    expect(a.summary()).toMatch(/The daily budget is spent \(\$1\.2000 of \$1\.00\)/);
    expect(a.stdout()).toContain("::notice title=bg-agent budget::The daily budget is spent");
    expect(a.outputs()["cost-usd"]).toBe("0.000000");
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("reads the config from the default branch at a custom path, never from the checked-out workspace", async () => {
    const a = start({ "config-path": "ci/bg.yml", mode: "analyze", "dry-run": "true" });
    // The checkout (a pull request's head, say) has its own file: it is not used.
    mkdirSync(join(a.dir, "ci"));
    writeFileSync(join(a.dir, "ci/bg.yml"), "tech_debt:\n  github:\n    labels: [evil]\n");
    const llm = fakeLlm(['{"ok":true}', '{"ok":true}'], usage);
    const scope = nock(API).get("/repos/octo/demo").reply(200, { default_branch: "main" });
    nockConfigFile(
      scope,
      "tech_debt:\n  github:\n    labels: [cleanup]\n  batch_size: 1\n",
      "ci/bg.yml",
    );
    dashboardList(scope, []);
    nockComments(scope);
    scope
      .get("/repos/octo/demo/issues")
      .query((q) => q.labels === "cleanup")
      .reply(200, [
        { number: 4, title: "a", body: "", labels: [] },
        { number: 5, title: "b", body: "", labels: [] },
      ]);

    await run({ processors: fakeProcessors(), createLlm: () => llm, githubRetries: false });

    expect(a.failed()).toBe(false);
    expect(llm.calls).toHaveLength(2); // batch_size 1 from the default branch's file
    expect(a.outputs().analyzed).toBe("2");
    expect(a.summary()).not.toContain("default configuration");
    expect(a.summary()).toContain("Dry run: nothing was written");
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("fails clearly without a token, with a refused token, and on a bad input", async () => {
    let a = start({ "github-token": "  " });
    await run({ processors: [], githubRetries: false });
    expect(a.failed()).toBe(true);
    expect(a.stdout()).toMatch(/::error::Invalid input: github-token is empty: pass a token/);
    a.restore();

    a = start({});
    nock(API).get("/repos/octo/demo").reply(401, { message: "Bad credentials" });
    await run({ processors: [], githubRetries: false });
    expect(a.failed()).toBe(true);
    expect(a.stdout()).toMatch(/::error::GitHub refused the token \(401 Bad credentials\)/);
    expect(a.summary()).toContain("bg-agent could not run");
    a.restore();

    a = start({ mode: "everything", "max-cost-usd": "lots" });
    await run({ processors: [], githubRetries: false });
    expect(a.failed()).toBe(true);
    expect(a.stdout()).toMatch(
      /mode must be one of analyze, automerge, tasks, all; max-cost-usd must be a number/,
    );
    a.restore();

    a = start({ "llm-rpm": "fast" });
    await run({ processors: [], githubRetries: false });
    expect(a.failed()).toBe(true);
    expect(a.stdout()).toMatch(/llm-rpm must be a whole number of requests per minute/);
    expect(nock.pendingMocks()).toEqual([]);
  });
});

describe("the Action in connected mode", () => {
  async function app(): Promise<{
    store: Store;
    url: string;
    issuer: Awaited<ReturnType<typeof testIssuer>>;
    close(): Promise<void>;
  }> {
    const issuer = await testIssuer(workflowClaims("octo/demo", "4242"));
    const store = await memoryStore();
    await store.repos.upsert({
      fullName: "octo/demo",
      repoId: DEMO_REPO_ID,
      defaultBranch: "main",
    });
    const server = await serveRoutes(
      createWorkerApiRoutes({ store, log: silentLogger, jwks: issuer.jwksUrl }),
    );
    return {
      store,
      url: server.url,
      issuer,
      close: async () => {
        await server.close();
        await issuer.close();
      },
    };
  }

  it("claims its repository's tasks from the app, runs them, and completes them there with the spend", async () => {
    const srv = await app();
    const merge = (
      await srv.store.tasks.enqueue({
        repo: "octo/demo",
        type: "automerge",
        source: "pr:3",
        payload: { pr: 3 },
      })
    ).task;
    const debt = await Promise.all(
      [1, 2].map(
        async (n) =>
          (
            await srv.store.tasks.enqueue({
              repo: "octo/demo",
              type: "tech_debt_analysis",
              source: `issue:${n}`,
              payload: { key: `octo/demo#${n}`, number: n, title: "t", body: "b" },
            })
          ).task,
      ),
    );
    const other = (
      await srv.store.tasks.enqueue({
        repo: "octo/other",
        type: "automerge",
        source: "pr:1",
        payload: { pr: 1 },
      })
    ).task;
    const a = start(
      { "app-url": srv.url },
      {
        ACTIONS_ID_TOKEN_REQUEST_URL: srv.issuer.tokenRequestUrl,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: "request-token",
      },
    );
    const llm = fakeLlm(['{"ok":true}'], usage);
    // No sweep in connected mode: only the repository check, the config, and the work itself.
    nockRepoAndNoConfig(nock(API))
      .get("/repos/octo/demo/pulls/3")
      .reply(200, { number: 3, labels: [{ name: "ready" }], head: { sha: "abc" } })
      .put("/repos/octo/demo/pulls/3/merge", { sha: "abc" })
      .reply(200, { merged: true });

    await run({ processors: fakeProcessors(), createLlm: () => llm, githubRetries: false });

    expect(a.failed()).toBe(false);
    expect(a.outputs()).toMatchObject({ analyzed: "2", merged: "1" });
    expect(await srv.store.tasks.get(merge.id)).toMatchObject({
      status: "done",
      result: '{"merged":true}',
    });
    expect(
      await Promise.all(debt.map(async (t) => (await srv.store.tasks.get(t.id))?.status)),
    ).toEqual(["done", "done"]);
    expect((await srv.store.tasks.get(other.id))?.status).toBe("pending");
    expect(await srv.store.spend.today("octo/demo")).toBeCloseTo(0.003);
    // What the runner recorded is the app's too (its dashboard shows the merge).
    expect(await srv.store.runs.list({ repo: "octo/demo" })).toMatchObject([
      { kind: "automerge", ref: "pr:3", status: "merged", taskId: merge.id },
    ]);
    expect(a.summary()).toContain("(all, connected)");
    expect(a.summary()).toContain(`Connected to ${srv.url}: 3 task(s) claimed`);
    expect(nock.pendingMocks()).toEqual([]);
    await srv.close();
  });

  it("hands claimed LLM work back when the app says the budget is spent", async () => {
    const srv = await app();
    const t = (
      await srv.store.tasks.enqueue({
        repo: "octo/demo",
        type: "tech_debt_analysis",
        source: "issue:1",
        payload: { key: "octo/demo#1", number: 1, title: "t", body: "b" },
      })
    ).task;
    await srv.store.spend.add("octo/demo", {
      promptTokens: 0,
      cachedTokens: 0,
      completionTokens: 0,
      costUsd: 5,
    });
    const a = start(
      { "app-url": srv.url },
      {
        ACTIONS_ID_TOKEN_REQUEST_URL: srv.issuer.tokenRequestUrl,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: "request-token",
      },
    );
    const llm = fakeLlm([]);
    nockRepoAndNoConfig(nock(API));
    await run({ processors: fakeProcessors(), createLlm: () => llm, githubRetries: false });
    expect(a.failed()).toBe(false);
    expect(llm.calls).toHaveLength(0);
    expect(a.summary()).toContain("budget is spent");
    expect(await srv.store.tasks.get(t.id)).toMatchObject({ status: "pending", attempts: 0 });
    expect(nock.pendingMocks()).toEqual([]);
    await srv.close();
  });

  it("fails clearly when app-url does not answer, or falls back to standalone when asked", async () => {
    const closed = await serveRoutes([]);
    const deadUrl = closed.url;
    await closed.close();
    const oidc = await testIssuer();
    const env = {
      ACTIONS_ID_TOKEN_REQUEST_URL: oidc.tokenRequestUrl,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: "request-token",
    };

    let a = start({ "app-url": deadUrl }, env);
    nockRepoAndNoConfig(nock(API));
    await run({ processors: [], githubRetries: false });
    expect(a.failed()).toBe(true);
    expect(a.stdout()).toMatch(
      new RegExp(`::error::The bg-agent app at ${deadUrl} did not answer \\(ECONNREFUSED\\)`),
    );
    a.restore();

    a = start({ "app-url": deadUrl, fallback: "standalone" }, env);
    const scope = nockRepoAndNoConfig(nockRepoAndNoConfig(nock(API)));
    dashboardList(scope, []);
    nockComments(scope);
    dashboardList(scope, []);
    scope
      .post("/repos/octo/demo/issues")
      .reply(201, dashboardIssue(1, marker("dashboard", "main")))
      .get("/repos/octo/demo/issues/1")
      .times(2)
      .reply(200, dashboardIssue(1, marker("dashboard", "main")))
      .post("/graphql")
      .reply(200, { data: {} })
      .patch("/repos/octo/demo/issues/1")
      .reply(200, { number: 1, html_url: "https://github.com/octo/demo/issues/1" });
    await run({ processors: [], githubRetries: false });
    expect(a.failed()).toBe(false);
    expect(a.stdout()).toMatch(
      /::warning title=bg-agent::The bg-agent app at .* did not answer.*Falling back to standalone/,
    );
    expect(a.summary()).toContain("fell back to standalone mode");
    expect(nock.pendingMocks()).toEqual([]);
    await oidc.close();
  });

  it("fails clearly without id-token: write", async () => {
    const srv = await app();
    const a = start({ "app-url": srv.url });
    nockRepoAndNoConfig(nock(API));
    await run({ processors: [], githubRetries: false });
    expect(a.failed()).toBe(true);
    expect(a.stdout()).toMatch(
      /Could not get the runner's OIDC token.*permissions: id-token: write/,
    );
    expect(nock.pendingMocks()).toEqual([]);
    await srv.close();
  });
});

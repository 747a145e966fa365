import nock from "nock";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createTokenClient } from "../../src/integrations/github.js";
import { silentLogger } from "../../src/log.js";
import { marker, readState, stateBlock } from "../../src/report/markers.js";
import { openSqlJs } from "../../src/store/sqljs.js";
import { RunError, runStandalone } from "../../src/worker/standalone.js";
import type { StandaloneOptions } from "../../src/worker/standalone.js";
import { fakeLlm } from "../helpers/fake-llm.js";
import { fakeProcessors } from "../helpers/fake-processors.js";
import { API, dashboardIssue, nockRepoAndNoConfig } from "../helpers/github-nock.js";

const NOW = Date.parse("2026-03-10T12:00:00Z");
const octokit = () => createTokenClient({ token: "ghs_test", baseUrl: API, retries: false });
const usage = { promptTokens: 1000, cachedTokens: 200, completionTokens: 100, costUsd: 0.01 };

function options(o: Partial<StandaloneOptions> = {}): StandaloneOptions {
  return {
    repo: "octo/demo",
    mode: "all",
    dryRun: false,
    octokit: octokit(),
    openDb: openSqlJs,
    log: silentLogger,
    llm: {
      provider: "openai",
      model: "gpt-4o-mini",
      apiKey: "sk-test",
      baseUrl: "https://api.openai.com/v1",
    },
    processors: fakeProcessors(),
    collectCommands: null,
    owner: "runner:1",
    ...o,
  };
}

const noPulls = (s: nock.Scope) => s.get("/repos/octo/demo/pulls").query(true).reply(200, []);
const debtIssues = (s: nock.Scope, n: number) =>
  s
    .get("/repos/octo/demo/issues")
    .query((q) => q.labels === "tech-debt")
    .reply(
      200,
      Array.from({ length: n }, (_, i) => ({
        number: i + 1,
        title: `debt ${i + 1}`,
        body: "slow",
        labels: [{ name: "tech-debt" }],
      })),
    );
const dashboardList = (s: nock.Scope, issues: unknown[]) =>
  s
    .get("/repos/octo/demo/issues")
    .query((q) => q.labels === "bg:dashboard")
    .reply(200, issues);

describe("runStandalone", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["Date"], now: NOW });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("hydrates the spend from the dashboard issue, runs the pass, and writes the run and the new spend back", async () => {
    const body = `${marker("dashboard", "main")}\nold\n${stateBlock({
      v: 1,
      lastRunAt: NOW - 3_600_000,
      spend: { "2026-03-09": 0.5, "2026-03-10": 0.1, "2026-02-28": 9 },
      runs: [],
    })}`;
    const llm = fakeLlm(['{"ok":true}', '{"ok":true}'], usage);
    let written = "";
    const scope = nockRepoAndNoConfig(nock(API));
    dashboardList(scope, [dashboardIssue(7, body)]);
    noPulls(scope);
    // 22: two calls at the default batch size of 20.
    debtIssues(scope, 22);
    scope
      .get("/repos/octo/demo/issues/7")
      .reply(200, dashboardIssue(7, body.replace('"2026-03-10":0.1', '"2026-03-10":0.2')))
      .patch("/repos/octo/demo/issues/7", (b: { body: string }) => {
        written = b.body;
        return true;
      })
      .reply(200, { number: 7, html_url: "https://github.com/octo/demo/issues/7" });

    const s = await runStandalone(
      options({ createLlm: () => llm, runUrl: "https://github.com/octo/demo/actions/runs/5" }),
    );

    expect(s.analysed).toBe(22);
    expect(llm.calls).toHaveLength(2);
    expect(s.costUsd).toBeCloseTo(0.02);
    expect(s.tokens).toEqual({ prompt: 2000, cached: 400, completion: 200, total: 2200 });
    expect(s.budget.spentMonthUsd).toBeCloseTo(0.62);
    expect(s.notes.join("\n")).toContain("No .github/bg-agent.yml in the repository");
    expect(s.dashboard).toEqual({ number: 7, url: "https://github.com/octo/demo/issues/7" });
    // A run that finished meanwhile raised today to 0.2: both runs' spend are kept; February is dropped.
    const state = readState<{
      spend: Record<string, number>;
      runs: { analysed: number; url: string }[];
      lastRunAt: number;
    }>(written);
    expect(state?.spend).toEqual({ "2026-03-09": 0.5, "2026-03-10": 0.22 });
    expect(state?.runs[0]).toMatchObject({
      analysed: 22,
      url: "https://github.com/octo/demo/actions/runs/5",
    });
    expect(state?.lastRunAt).toBe(NOW);
    expect(written).toContain("| Time (UTC) | Mode | Analysed | Merged |");
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("says a spent budget, makes no LLM call, and still merges", async () => {
    const body = `${marker("dashboard", "main")}\n${stateBlock({ v: 1, spend: { "2026-03-10": 1.5 }, runs: [] })}`;
    const llm = fakeLlm([]);
    const scope = nockRepoAndNoConfig(nock(API));
    dashboardList(scope, [dashboardIssue(7, body)]);
    scope
      .get("/repos/octo/demo/pulls")
      .query(true)
      .reply(200, [{ number: 3 }])
      .get("/repos/octo/demo/pulls/3")
      .reply(200, { number: 3, labels: [{ name: "ready" }], head: { sha: "abc" } })
      .put("/repos/octo/demo/pulls/3/merge", { sha: "abc" })
      .reply(200, { merged: true })
      .get("/repos/octo/demo/issues/7")
      .reply(200, dashboardIssue(7, body))
      .patch("/repos/octo/demo/issues/7")
      .reply(200, { number: 7, html_url: "https://github.com/octo/demo/issues/7" });

    const s = await runStandalone(options({ createLlm: () => llm }));

    expect(llm.calls).toHaveLength(0);
    expect(s.merged).toBe(1);
    expect(s.budget.stopped).toMatch(/daily budget is spent \(\$1\.5000 of \$1\.00\)/);
    expect(s.skipped.map((x) => x.reason).join("\n")).toContain(
      "LLM work (tech_debt_analysis) not started",
    );
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("writes nothing in a dry run and does not create the dashboard issue", async () => {
    const llm = fakeLlm(['{"ok":true}'], usage);
    const scope = nockRepoAndNoConfig(nock(API));
    dashboardList(scope, []);
    scope
      .get("/repos/octo/demo/pulls")
      .query(true)
      .reply(200, [{ number: 3 }])
      .get("/repos/octo/demo/pulls/3")
      .reply(200, { number: 3, labels: [{ name: "ready" }], head: { sha: "abc" } });
    debtIssues(scope, 2);

    const s = await runStandalone(options({ createLlm: () => llm, dryRun: true }));

    expect(s.analysed).toBe(2);
    expect(s.merged).toBe(0);
    expect(s.dashboard).toBeNull();
    expect(s.notes.join("\n")).toContain("Dry run");
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("creates and pins the dashboard issue on the first run; a refused pin is harmless", async () => {
    const llm = fakeLlm(['{"ok":true}'], usage);
    const scope = nockRepoAndNoConfig(nock(API));
    dashboardList(scope, []);
    noPulls(scope);
    debtIssues(scope, 1);
    dashboardList(scope, []); // listed again right before creating: another run may have created it
    scope
      .post("/repos/octo/demo/issues", (b: { title: string; labels: string[] }) =>
        b.labels.includes("bg:dashboard"),
      )
      .reply(201, dashboardIssue(9, marker("dashboard", "main")))
      .get("/repos/octo/demo/issues/9")
      .reply(200, dashboardIssue(9, marker("dashboard", "main")))
      .post("/graphql", (b: { variables: { id: string } }) => b.variables.id === "I_9")
      .reply(200, { errors: [{ message: "Resource not accessible by integration" }] })
      .get("/repos/octo/demo/issues/9")
      .reply(200, dashboardIssue(9, marker("dashboard", "main")))
      .patch("/repos/octo/demo/issues/9")
      .reply(200, { number: 9, html_url: "https://github.com/octo/demo/issues/9" });

    const s = await runStandalone(options({ createLlm: () => llm }));
    expect(s.errors).toEqual([]);
    expect(s.dashboard?.number).toBe(9);
    expect(s.errors).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("fails clearly on a token GitHub refuses", async () => {
    nock(API).get("/repos/octo/demo").reply(401, { message: "Bad credentials" });
    await expect(runStandalone(options())).rejects.toThrow(RunError);
    nock(API).get("/repos/octo/demo").reply(401, { message: "Bad credentials" });
    await expect(runStandalone(options())).rejects.toThrow(/401 Bad credentials.*github-token/);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("holds LLM work when the dashboard's state block is damaged, and does not overwrite it", async () => {
    const body = `${marker("dashboard", "main")}\n<!-- bg-agent-state:{not json -->`;
    const llm = fakeLlm([]);
    const scope = nockRepoAndNoConfig(nock(API));
    dashboardList(scope, [dashboardIssue(7, body)]);
    noPulls(scope);
    scope.get("/repos/octo/demo/issues/7").reply(200, dashboardIssue(7, body));

    const s = await runStandalone(options({ createLlm: () => llm }));
    expect(llm.calls).toHaveLength(0);
    expect(s.errors.join("\n")).toMatch(/state block does not parse[\s\S]*not overwriting/);
    expect(nock.pendingMocks()).toEqual([]);
  });
});

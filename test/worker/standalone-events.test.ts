import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import nock from "nock";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { stringify } from "yaml";
import { createTokenClient } from "../../src/integrations/github.js";
import { silentLogger } from "../../src/log.js";
import { createPromptTaskProcessor } from "../../src/processors/prompt-task/index.js";
import { marker } from "../../src/report/markers.js";
import { openSqlJs } from "../../src/store/sqljs.js";
import { runStandalone } from "../../src/worker/standalone.js";
import { readTriggerEvent } from "../../src/worker/trigger-event.js";
import type { TriggerEvent } from "../../src/worker/trigger-event.js";
import { fakeLlm } from "../helpers/fake-llm.js";
import { API, dashboardIssue } from "../helpers/github-nock.js";

const CONFIG = {
  tasks: [
    {
      name: "ci-failed",
      prompt: "Say why CI failed.",
      on: { workflow_run: { conclusion: "failure", workflow: "CI" } },
      debounce: "10m",
      notify: "never",
    },
  ],
};

const workflowRun = (conclusion: string) => ({
  action: "completed",
  repository: { full_name: "octo/demo" },
  workflow_run: { name: "CI", conclusion, head_branch: "main", run_number: 12 },
});

/** One standalone run (the Action), started by `event`; returns how many LLM calls it made. */
async function run(event: TriggerEvent | undefined) {
  const llm = fakeLlm(["The cache test timed out."]);
  const body = marker("dashboard", "main");
  nock(API)
    .get("/repos/octo/demo")
    .reply(200, { full_name: "octo/demo", default_branch: "main" })
    .get("/repos/octo/demo/contents/.github%2Fbg-agent.yml")
    .reply(200, stringify(CONFIG), { "content-type": "application/vnd.github.raw; charset=utf-8" })
    .get("/repos/octo/demo/issues")
    .query((q) => q.labels === "bg:dashboard")
    .reply(200, [dashboardIssue(7, body)])
    .get("/repos/octo/demo/issues/7")
    .reply(200, dashboardIssue(7, body))
    .patch("/repos/octo/demo/issues/7")
    .reply(200, { number: 7, html_url: "https://github.com/octo/demo/issues/7" });
  const ws = mkdtempSync(join(tmpdir(), "bg-ws-"));
  mkdirSync(join(ws, ".github"));
  writeFileSync(join(ws, ".github/bg-agent.yml"), stringify(CONFIG));
  const summary = await runStandalone({
    repo: "octo/demo",
    mode: "tasks",
    dryRun: false,
    octokit: createTokenClient({ token: "ghs_test", baseUrl: API, retries: false }),
    openDb: openSqlJs,
    log: silentLogger,
    llm: {
      provider: "openai",
      model: "m",
      apiKey: "sk-test",
      baseUrl: "https://api.openai.com/v1",
    },
    createLlm: () => llm,
    processors: [createPromptTaskProcessor()],
    collectCommands: null,
    workspace: ws,
    owner: "runner:1",
    ...(event ? { event } : {}),
  });
  expect(summary.errors).toEqual([]);
  expect(nock.pendingMocks()).toEqual([]);
  return { calls: llm.calls, summary };
}

describe("on: tasks in the Action (standalone)", () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ["Date"], now: Date.parse("2026-03-10T12:00:00Z") }));
  afterEach(() => vi.useRealTimers());

  it("runs when the workflow was started by a matching event, at once (no debounce), and not otherwise", async () => {
    const failed = await run({ name: "workflow_run", payload: workflowRun("failure") });
    expect(failed.calls.map((c) => c.purpose)).toEqual(["task:ci-failed"]);
    expect(JSON.stringify(failed.calls[0]!.messages)).toContain('\\"event\\":\\"workflow_run\\"');
    expect(failed.summary.notes.join("\n")).toContain("Started by the workflow_run event");

    expect((await run({ name: "workflow_run", payload: workflowRun("success") })).calls).toEqual(
      [],
    );
    expect((await run(undefined)).calls).toEqual([]);
  });

  it("reads github.event_name and the payload file", () => {
    const dir = mkdtempSync(join(tmpdir(), "bg-ev-"));
    const path = join(dir, "event.json");
    writeFileSync(path, JSON.stringify(workflowRun("failure")));
    expect(
      readTriggerEvent({ GITHUB_EVENT_NAME: "workflow_run", GITHUB_EVENT_PATH: path }),
    ).toEqual({
      name: "workflow_run",
      payload: workflowRun("failure"),
    });
    expect(readTriggerEvent({})).toBeNull();
  });
});

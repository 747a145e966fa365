import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import nock from "nock";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createTokenClient } from "../../src/integrations/github.js";
import { silentLogger } from "../../src/log.js";
import { createPromptTaskProcessor } from "../../src/processors/prompt-task/index.js";
import { marker, readState } from "../../src/report/markers.js";
import type { HistoryState } from "../../src/report/run-history.js";
import { openSqlJs } from "../../src/store/sqljs.js";
import { runStandalone } from "../../src/worker/standalone.js";
import { fakeLlm } from "../helpers/fake-llm.js";
import { API, dashboardIssue } from "../helpers/github-nock.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.parse("2026-03-10T12:00:00Z");

/** A checked-out repository whose .github/bg-agent.yml declares the given tasks. */
function workspace(tasks: string): string {
  const dir = mkdtempSync(join(tmpdir(), "bg-ws-"));
  mkdirSync(join(dir, ".github"));
  writeFileSync(join(dir, ".github/bg-agent.yml"), `tasks:\n${tasks}`);
  return dir;
}

/**
 * One standalone run at `at` (the Action on a fresh runner: an empty store every time), with the
 * dashboard issue #7 holding `body` (or no dashboard issue yet). Returns the body written back
 * and how many times the task ran (LLM calls: one per run, the model answers at once).
 */
async function runAt(at: number, ws: string, body: string | null, dryRun = false) {
  vi.setSystemTime(at);
  const llm = fakeLlm(["All quiet.", "All quiet.", "All quiet."]);
  const scope = nock(API)
    .get("/repos/octo/demo")
    .reply(200, { full_name: "octo/demo", default_branch: "main" })
    // The default branch's config (the same as the checkout's here).
    .get("/repos/octo/demo/contents/.github%2Fbg-agent.yml")
    .reply(200, readFileSync(join(ws, ".github/bg-agent.yml"), "utf8"), {
      "content-type": "application/vnd.github.raw; charset=utf-8",
    })
    .get("/repos/octo/demo/issues")
    .query((q) => q.labels === "bg:dashboard")
    .reply(200, body === null ? [] : [dashboardIssue(7, body)]);
  let written = body ?? "";
  if (!dryRun) {
    if (body === null) {
      scope
        .get("/repos/octo/demo/issues")
        .query((q) => q.labels === "bg:dashboard")
        .reply(200, [])
        .post("/repos/octo/demo/issues")
        .reply(201, dashboardIssue(7, marker("dashboard", "main")))
        .get("/repos/octo/demo/issues/7")
        .reply(200, dashboardIssue(7, marker("dashboard", "main")))
        .post("/graphql")
        .reply(200, { data: {} });
    }
    scope
      .get("/repos/octo/demo/issues/7")
      .reply(200, dashboardIssue(7, body ?? marker("dashboard", "main")))
      .patch("/repos/octo/demo/issues/7", (b: { body: string }) => {
        written = b.body;
        return true;
      })
      .reply(200, { number: 7, html_url: "https://github.com/octo/demo/issues/7" });
  }
  const summary = await runStandalone({
    repo: "octo/demo",
    mode: "tasks",
    dryRun,
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
  });
  expect(summary.errors).toEqual([]);
  expect(nock.pendingMocks()).toEqual([]);
  const state = readState<HistoryState>(written);
  return { written, ran: llm.calls.length, state, summary };
}

describe("scheduled tasks in standalone runs", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["Date"], now: T0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("an `every: 1d` task runs on the first run, not on a run an hour later, and again a day later", async () => {
    const ws = workspace(
      "  - name: digest\n    prompt: Summarise the week.\n    every: 1d\n    notify: never\n",
    );

    const first = await runAt(T0, ws, null);
    expect(first.ran).toBe(1);
    expect(first.state?.schedules.digest).toMatchObject({
      status: "active",
      lastRunAt: T0,
      nextRunAt: T0 + DAY,
      runCount: 1,
      consecutiveFailures: 0,
    });

    // An hour later, on a fresh runner: the state came from the dashboard issue.
    const second = await runAt(T0 + HOUR, ws, first.written);
    expect(second.ran).toBe(0);
    expect(second.state?.schedules.digest).toMatchObject({ nextRunAt: T0 + DAY, runCount: 1 });

    // A dry run the next day decides to run it but moves nothing and writes nothing.
    const dry = await runAt(T0 + DAY + HOUR, ws, second.written, true);
    expect(dry.ran).toBe(1);

    const third = await runAt(T0 + DAY + HOUR, ws, second.written);
    expect(third.ran).toBe(1);
    expect(third.state?.schedules.digest).toMatchObject({
      lastRunAt: T0 + DAY + HOUR,
      nextRunAt: T0 + 2 * DAY,
      runCount: 2,
    });
  });

  it("a `cron` task whose slot passed between two runs runs once", async () => {
    const ws = workspace(
      '  - name: nightly\n    prompt: Look for flaky tests.\n    cron: "0 3 * * *"\n    notify: never\n',
    );
    // 12:00: the next slot is 03:00 tomorrow; nothing runs yet.
    const first = await runAt(T0, ws, null);
    expect(first.ran).toBe(0);
    const slot = Date.parse("2026-03-11T03:00:00Z");
    expect(first.state?.schedules.nightly).toMatchObject({ nextRunAt: slot, runCount: 0 });

    // 08:00 the next day: the 03:00 slot passed while nothing ran: it runs, once.
    const second = await runAt(slot + 5 * HOUR, ws, first.written);
    expect(second.ran).toBe(1);
    expect(second.state?.schedules.nightly).toMatchObject({
      lastRunAt: slot + 5 * HOUR,
      nextRunAt: slot + DAY,
      runCount: 1,
    });

    // Later that day: not again.
    const third = await runAt(slot + 9 * HOUR, ws, second.written);
    expect(third.ran).toBe(0);
    expect(third.state?.schedules.nightly).toMatchObject({ runCount: 1 });
  });

  it("an edited task starts afresh: its saved state is dropped", async () => {
    const ws1 = workspace(
      "  - name: digest\n    prompt: Summarise the week.\n    every: 1d\n    notify: never\n",
    );
    const first = await runAt(T0, ws1, null);
    expect(first.ran).toBe(1);
    const ws2 = workspace(
      "  - name: digest\n    prompt: Summarise the month.\n    every: 1d\n    notify: never\n",
    );
    const second = await runAt(T0 + HOUR, ws2, first.written);
    expect(second.ran).toBe(1);
    expect(second.state?.schedules.digest).toMatchObject({ runCount: 1, lastRunAt: T0 + HOUR });
  });
});

import nock from "nock";
import type { ChatCompletionMessage } from "openai/resources/chat/completions";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { BudgetExceededError } from "../../src/llm/types.js";
import type { ChatRequest, Llm } from "../../src/llm/types.js";
import { createPromptTaskProcessor } from "../../src/processors/prompt-task/index.js";
import { normaliseResult } from "../../src/processors/prompt-task/report.js";
import type { Store } from "../../src/store/index.js";
import { runPass } from "../../src/worker/pass.js";
import type { PassSummary } from "../../src/core/worker-contract.js";
import { fakeLlm } from "../helpers/fake-llm.js";
import { testEnv } from "../helpers/context.js";
import { memoryStore } from "../helpers/store.js";
import { syncSchedules } from "../../src/schedule/sync.js";
import { MIN, REPO, t, tasksOf } from "./helpers.js";

const API = "https://api.github.com";
let store: Store;

beforeEach(async () => {
  // Only Date is faked: nock and the SDKs keep their real timers.
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(t("2025-03-03T10:00:00Z"));
  store = await memoryStore();
});
afterEach(() => {
  vi.useRealTimers();
});

const advance = (ms: number) => vi.setSystemTime(Date.now() + ms);
const task = (over: Record<string, unknown> = {}) => ({
  name: "digest",
  prompt: "Summarise the open tech-debt issues.",
  every: "30m",
  report_to: 9,
  ...over,
});

function pass(llm: Llm, tasks: unknown[], opts: { dryRun?: boolean } = {}): Promise<PassSummary> {
  const env = testEnv(store, { config: { tasks }, llm, ...opts });
  // The repository is named: a brand-new config has no schedule rows yet to make it due.
  return runPass(env, [createPromptTaskProcessor()], { repo: REPO });
}

const outcomes = (s: PassSummary) => s.repos.flatMap((r) => r.processed.map((p) => p.outcome));

/** The calls upsertComment makes for a first comment on #9; returns the posted bodies. */
function expectNewComment(bodies: string[]): void {
  nock(API)
    .get("/repos/octo/demo/issues/9/comments")
    .query(true)
    .reply(200, [])
    .post("/repos/octo/demo/issues/9/comments", (b: { body: string }) => {
      bodies.push(b.body);
      return true;
    })
    .reply(201, { id: 77, html_url: "https://github.com/octo/demo/issues/9#issuecomment-77" });
}

function expectUpdatedComment(bodies: string[], previous: string): void {
  nock(API)
    .get("/repos/octo/demo/issues/9/comments")
    .query(true)
    .reply(200, [
      { id: 77, body: previous, html_url: "https://github.com/octo/demo/issues/9#issuecomment-77" },
    ])
    .patch("/repos/octo/demo/issues/comments/77", (b: { body: string }) => {
      bodies.push(b.body);
      return true;
    })
    .reply(200, { id: 77, html_url: "https://github.com/octo/demo/issues/9#issuecomment-77" });
}

describe("prompt tasks: notify on_change", () => {
  it("posts the first result, stays quiet while it does not change, updates its comment when it does", async () => {
    const llm = fakeLlm([
      "Three issues are open.",
      "Three  issues are open.\n\n",
      "Four issues are open, @alice.",
    ]);
    const bodies: string[] = [];

    expectNewComment(bodies);
    expect(outcomes(await pass(llm, [task()]))).toEqual(["done"]);
    expect(bodies[0]).toContain("<!-- bg-agent:task:digest -->");
    expect(bodies[0]).toContain("Three issues are open.");

    advance(30 * MIN); // same result, re-flowed whitespace: nothing is posted (no HTTP mocked)
    expect(outcomes(await pass(llm, [task()]))).toEqual(["done"]);

    advance(30 * MIN);
    expectUpdatedComment(bodies, bodies[0]!);
    expect(outcomes(await pass(llm, [task()]))).toEqual(["done"]);
    expect(bodies).toHaveLength(2);
    expect(bodies[1]).toContain("Four issues are open");
    expect(bodies[1]).not.toContain("@alice"); // sanitised: no ping

    const runs = (await store.runs.list({ repo: REPO, kind: "prompt_task" })).reverse();
    expect(runs.map((r) => r.status)).toEqual(["changed", "unchanged", "changed"]);
    expect(runs[0]).toMatchObject({
      ref: "task:digest",
      promptTokens: 100,
      completionTokens: 20,
      costUsd: 0.0001,
    });
    expect(runs[0]!.url).toContain("issuecomment-77");
    expect(await store.schedules.get(REPO, "digest")).toMatchObject({
      runCount: 3,
      status: "active",
    });
    expect(llm.calls).toHaveLength(3);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("normalises whitespace only: wording and case are changes", () => {
    expect(normaliseResult("a  b \r\n\r\n\r\nc ")).toBe("a b\n\nc");
    expect(normaliseResult("A b")).not.toBe(normaliseResult("a b"));
  });
});

describe("prompt tasks: report targets", () => {
  it("report_to: dashboard comments on the dashboard issue", async () => {
    const bodies: string[] = [];
    nock(API)
      .get("/repos/octo/demo/issues")
      .query((q) => q.labels === "bg:dashboard")
      .reply(200, [{ number: 3, body: "<!-- bg-agent:dashboard:main -->\nhistory" }])
      .get("/repos/octo/demo/issues/3/comments")
      .query(true)
      .reply(200, [])
      .post("/repos/octo/demo/issues/3/comments", (b: { body: string }) => {
        bodies.push(b.body);
        return true;
      })
      .reply(201, { id: 5, html_url: "https://github.com/octo/demo/issues/3#issuecomment-5" });
    expect(outcomes(await pass(fakeLlm(["Dash."]), [task({ report_to: "dashboard" })]))).toEqual([
      "done",
    ]);
    expect(bodies[0]).toMatch(/^<!-- bg-agent:task:digest -->/);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("report_to: check_run publishes bg-agent/task/<name> on the default branch head", async () => {
    let created: Record<string, unknown> = {};
    nock(API)
      .get("/repos/octo/demo/commits/HEAD")
      .reply(200, { sha: "abc1234def" })
      .get("/repos/octo/demo/commits/abc1234def/check-runs")
      .query((q) => q.check_name === "bg-agent/task/digest")
      .reply(200, { total_count: 0, check_runs: [] })
      .post("/repos/octo/demo/check-runs", (b: Record<string, unknown>) => {
        created = b;
        return true;
      })
      .reply(201, { id: 8, html_url: "https://github.com/octo/demo/runs/8" });
    expect(
      outcomes(await pass(fakeLlm(["CI is green."]), [task({ report_to: "check_run" })])),
    ).toEqual(["done"]);
    expect(created).toMatchObject({
      name: "bg-agent/task/digest",
      head_sha: "abc1234def",
      conclusion: "neutral",
      output: { title: "CI is green." },
    });
    expect((await store.runs.list({ repo: REPO }))[0]?.url).toBe(
      "https://github.com/octo/demo/runs/8",
    );
    expect(nock.pendingMocks()).toEqual([]);
  });
});

describe("prompt tasks: failures", () => {
  it("retries a failed run once, then pauses the task and tells the report target why", async () => {
    const boom = () => {
      throw new Error("provider answered 500");
    };
    const llm = fakeLlm([boom, boom]);
    const first = await pass(llm, [task()]);
    expect(outcomes(first)).toEqual(["retry"]);
    expect(await store.schedules.get(REPO, "digest")).toMatchObject({
      status: "active",
      consecutiveFailures: 1,
    });

    advance(4 * MIN); // the retry waits for its backoff
    expect(outcomes(await pass(llm, [task()]))).toEqual([]);

    advance(MIN);
    const bodies: string[] = [];
    expectNewComment(bodies);
    expect(outcomes(await pass(llm, [task()]))).toEqual(["failed"]);
    expect(await store.schedules.get(REPO, "digest")).toMatchObject({
      status: "paused",
      consecutiveFailures: 2,
      statusReason: "failed twice in a row: provider answered 500",
    });
    expect(bodies[0]).toContain("is paused");
    expect(bodies[0]).toContain("provider answered 500");
    expect((await store.runs.list({ repo: REPO })).map((r) => r.status)).toEqual([
      "failed",
      "failed",
    ]);

    advance(10 * 60 * MIN); // paused: nothing runs however long we wait
    expect(outcomes(await pass(llm, [task()]))).toEqual([]);
    expect(llm.calls).toHaveLength(2);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a successful retry clears the failure count", async () => {
    const llm = fakeLlm([
      () => {
        throw new Error("flaky");
      },
      "All good.",
    ]);
    await pass(llm, [task({ notify: "never" })]);
    advance(5 * MIN);
    expect(outcomes(await pass(llm, [task({ notify: "never" })]))).toEqual(["done"]);
    expect(await store.schedules.get(REPO, "digest")).toMatchObject({
      status: "active",
      consecutiveFailures: 0,
      runCount: 1,
    });
  });

  it("waits for the budget to roll over without counting a failure", async () => {
    const rollover = t("2025-03-04T00:00:00Z");
    const llm = fakeLlm([
      () => {
        throw new BudgetExceededError("day", 1.01, 1, rollover);
      },
    ]);
    expect(outcomes(await pass(llm, [task()]))).toEqual(["retry"]);
    expect((await store.tasks.list({ repo: REPO }))[0]).toMatchObject({
      status: "pending",
      nextRunAt: rollover,
    });
    expect(await store.schedules.get(REPO, "digest")).toMatchObject({
      status: "active",
      consecutiveFailures: 0,
    });
    expect((await store.runs.list({ repo: REPO }))[0]).toMatchObject({ status: "skipped" });
  });

  it("fails a run that passes its timeout", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(t("2025-03-03T10:00:00Z"));
    const hanging: Llm = {
      provider: "openai",
      model: "slow",
      chat: (req: ChatRequest) =>
        new Promise((_, reject) =>
          req.signal?.addEventListener("abort", () => reject(req.signal?.reason as Error)),
        ),
    };
    const running = pass(hanging, [task({ timeout: "10s", notify: "never" })]);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(outcomes(await running)).toEqual(["retry"]);
    expect((await store.runs.list({ repo: REPO }))[0]?.error).toMatch(
      /did not finish within its timeout \(10s\)/,
    );
  });
});

describe("prompt tasks: lifecycle", () => {
  it("max_runs ends a task", async () => {
    const llm = fakeLlm(["one", "two", "three"]);
    const tasks = [task({ max_runs: 2, notify: "never" })];
    for (let i = 0; i < 3; i++) {
      await pass(llm, tasks);
      advance(30 * MIN);
    }
    expect(llm.calls).toHaveLength(2);
    expect(await store.schedules.get(REPO, "digest")).toMatchObject({
      status: "done",
      runCount: 2,
      nextRunAt: null,
    });
  });

  it("a /bg run request runs a paused task, answers, and lifts the failure pause when it works", async () => {
    const llm = fakeLlm(["Back to normal."]);
    await syncSchedules(store, REPO, tasksOf([task()]));
    const s = (await store.schedules.get(REPO, "digest"))!;
    await store.schedules.update(s.id, {
      status: "paused",
      statusReason: "failed twice in a row: x",
      consecutiveFailures: 2,
    });
    await store.tasks.enqueue({
      repo: REPO,
      type: "prompt_task",
      source: "schedule:digest",
      payload: { name: "digest", manual: true, requestedBy: "alice" },
    });
    const bodies: string[] = [];
    expectNewComment(bodies);
    expect(outcomes(await pass(llm, [task({ notify: "never" })]))).toEqual(["done"]);
    expect(bodies[0]).toContain("run by alice");
    expect(await store.schedules.get(REPO, "digest")).toMatchObject({
      status: "active",
      consecutiveFailures: 0,
      runCount: 0,
    });
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("never runs a proposed task, even when asked", async () => {
    const { proposeTask } = await import("../../src/schedule/proposals.js");
    const { defaultConfig } = await import("../../src/config/load.js");
    await proposeTask(store, REPO, defaultConfig(), { name: "idea", prompt: "p", every: "1h" });
    await store.tasks.enqueue({
      repo: REPO,
      type: "prompt_task",
      source: "schedule:idea",
      payload: { name: "idea", manual: true },
    });
    const llm = fakeLlm([]);
    expect(outcomes(await pass(llm, []))).toEqual(["skipped"]);
    expect(llm.calls).toHaveLength(0);
  });

  it("dry-run: runs the model, posts and records nothing", async () => {
    const llm = fakeLlm(["Result."]);
    expect(outcomes(await pass(llm, [task()], { dryRun: true }))).toEqual(["done"]);
    expect(llm.calls).toHaveLength(1);
    expect(await store.runs.count()).toBe(0);
    expect(await store.schedules.get(REPO, "digest")).toMatchObject({
      runCount: 0,
      lastResultHash: null,
    });
  });
});

describe("prompt tasks: tools", () => {
  const toolCall = (name: string, args: unknown): ChatCompletionMessage => ({
    role: "assistant",
    content: null,
    refusal: null,
    tool_calls: [
      { id: `call_${name}`, type: "function", function: { name, arguments: JSON.stringify(args) } },
    ],
  });
  const toolResults = (req: ChatRequest) =>
    req.messages.filter((m) => m.role === "tool").map((m) => String(m.content));

  it("runs an allowed tool call on the repository and hands the result back", async () => {
    nock(API)
      .get("/repos/octo/demo/contents/docs%2FREADME.md")
      .reply(200, {
        type: "file",
        encoding: "base64",
        size: 21,
        path: "docs/README.md",
        content: Buffer.from("The build is flaky.\n").toString("base64"),
      });
    let seen: string[] = [];
    const llm = fakeLlm([
      () => toolCall("read_file", { path: "docs/README.md" }),
      (req) => {
        seen = toolResults(req);
        return "The README says the build is flaky.";
      },
    ]);
    const summary = await pass(llm, [
      task({ tools: ["read_file", "list_issues"], notify: "never" }),
    ]);
    expect(outcomes(summary)).toEqual(["done"]);
    // Only the allowed tools were offered.
    expect(
      llm.calls[0]!.tools?.map((x) => (x.type === "function" ? x.function.name : x.type)),
    ).toEqual(["read_file", "list_issues"]);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toContain("The build is flaky.");
    expect((await store.runs.list({ repo: REPO }))[0]?.summary).toBe(
      "The README says the build is flaky.",
    );
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("answers a call to a tool the task was not allowed with an error, without executing it", async () => {
    const requests: string[] = [];
    nock.emitter.on("no match", (req: { path?: string }) => requests.push(String(req.path)));
    let seen: string[] = [];
    const llm = fakeLlm([
      () => toolCall("read_file", { path: "secrets.txt" }),
      () => toolCall("delete_repository", {}),
      (req) => {
        seen = toolResults(req);
        return "I could not read it.";
      },
    ]);
    const summary = await pass(llm, [task({ tools: ["list_issues"], notify: "never" })]);
    nock.emitter.removeAllListeners("no match");
    expect(outcomes(summary)).toEqual(["done"]);
    expect(seen).toEqual([
      'error: the tool "read_file" is not available to this task (allowed: list_issues)',
      'error: the tool "delete_repository" is not available to this task (allowed: list_issues)',
    ]);
    expect(requests).toEqual([]); // no GitHub call was attempted
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a task's max_turns bounds its run (max_turns: 3: three model calls, the last without tools)", async () => {
    const loop = Array.from({ length: 10 }, () => () => toolCall("list_issues", {}));
    const llm = fakeLlm(loop);
    nock(API).get("/repos/octo/demo/issues").query(true).times(2).reply(200, []);
    const summary = await runPass(
      testEnv(store, {
        config: { tasks: [{ ...task({ tools: ["list_issues"], notify: "never" }), max_turns: 3 }] },
        llm,
      }),
      [createPromptTaskProcessor()],
      { repo: REPO },
    );
    expect(outcomes(summary)).toEqual(["retry"]);
    expect(llm.calls).toHaveLength(3);
    expect(llm.calls[2]!.tools).toBeUndefined();
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("offers no tools to a task without any, and stops at the turn limit", async () => {
    const loop = Array.from({ length: 10 }, () => () => toolCall("list_issues", {}));
    const llm = fakeLlm(loop);
    nock(API).get("/repos/octo/demo/issues").query(true).times(7).reply(200, []);
    const summary = await runPass(
      testEnv(store, {
        config: { tasks: [task({ tools: ["list_issues"], notify: "never" })] },
        llm,
      }),
      [createPromptTaskProcessor({ maxTurns: 8 })],
      { repo: REPO },
    );
    expect(outcomes(summary)).toEqual(["retry"]);
    expect(llm.calls).toHaveLength(8);
    expect(llm.calls[7]!.tools).toBeUndefined(); // the last turn must answer
    expect((await store.runs.list({ repo: REPO }))[0]?.error).toBe(
      "the model gave tool calls on its last turn instead of an answer",
    );
    expect(nock.pendingMocks()).toEqual([]);
  });
});

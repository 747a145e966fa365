import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import nock from "nock";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { main } from "../../src/cli/main.js";
import type { CliOverrides } from "../../src/cli/main.js";
import { marker, readState } from "../../src/report/markers.js";
import type { HistoryState } from "../../src/report/run-history.js";
import type { RunSummary } from "../../src/worker/runner.js";
import { fakeLlm } from "../helpers/fake-llm.js";
import { fakeProcessors } from "../helpers/fake-processors.js";
import { API, dashboardIssue, nockComments, nockConfigFile } from "../helpers/github-nock.js";

/**
 * The CLI's standalone pass (`bg-agent run --once`) against nock'd GitHub, where the only
 * record of human activity is what GitHub keeps: the repository's events and its comments.
 */

const MIN = 60_000;
const HOUR = 60 * MIN;
const T0 = Date.parse("2026-03-10T12:00:00Z");
const iso = (t: number) => new Date(t).toISOString();

const human = { login: "alice", type: "User" };

/** A comment as `GET /repos/{o}/{r}/issues/comments` lists it. */
const comment = (o: {
  at: number;
  login?: string;
  type?: string;
  body?: string;
  issue?: number;
}) => ({
  id: Math.floor(o.at / 1000),
  body: o.body ?? "Looks good to me",
  user: { login: o.login ?? human.login, type: o.type ?? "User" },
  created_at: iso(o.at),
  updated_at: iso(o.at),
  issue_url: `https://api.github.com/repos/octo/demo/issues/${o.issue ?? 12}`,
  html_url: `https://github.com/octo/demo/issues/${o.issue ?? 12}#issuecomment-1`,
});

/** What GitHub shows: changed by the test while a run is under way. */
interface Seen {
  events: unknown[];
  comments: unknown[];
  eventsStatus?: number;
}

/**
 * A run's checkout, and `yaml` as the default branch's .github/bg-agent.yml on GitHub (config is
 * read from the default branch, never from the checkout).
 */
function workspace(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), "bg-ws-"));
  configs.set(dir, yaml);
  return dir;
}
const configs = new Map<string, string>();

interface Requests {
  activity: number;
}

/**
 * GitHub for one run: the repository, the activity read (persisted: as often as the run reads),
 * the `/bg` commands scan (none), the dashboard issue #7 (`body`, or none yet) and its update.
 */
function github(seen: Seen, body: string | null, req: Requests, commands: unknown[] = []) {
  nock(API)
    .persist()
    .get("/repos/octo/demo/events")
    .query(true)
    .reply(() => {
      req.activity++;
      return seen.eventsStatus
        ? [seen.eventsStatus, { message: "Resource not accessible by integration" }]
        : [200, seen.events];
    })
    .get("/repos/octo/demo/issues/comments")
    .query((q) => q.sort === "updated" && q.since === undefined)
    .reply(() => {
      req.activity++;
      return [200, seen.comments];
    });
  const scope = nock(API)
    .get("/repos/octo/demo")
    .reply(200, { full_name: "octo/demo", default_branch: "main" })
    .get("/repos/octo/demo/issues")
    .query((q) => q.labels === "bg:dashboard")
    .reply(200, body === null ? [] : [dashboardIssue(7, body)]);
  nockComments(scope, commands);
  const out = { written: body ?? "" };
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
      out.written = b.body;
      return true;
    })
    .reply(200, { number: 7, html_url: "https://github.com/octo/demo/issues/7" });
  return { scope, out };
}

async function cli(argv: string[], ws: string, o: CliOverrides, env: Record<string, string> = {}) {
  let stdout = "";
  let stderr = "";
  nockConfigFile(nock(API), configs.get(ws) ?? "");
  const code = await main(
    argv,
    { GITHUB_TOKEN: "ghp_test", GITHUB_REPOSITORY: "octo/demo", GITHUB_WORKSPACE: ws, ...env },
    { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) },
    { githubRetries: false, ...o },
  );
  return { code, stdout, stderr };
}

let unmatched: string[] = [];
const onNoMatch = (r: { method: string; path: string }) => unmatched.push(`${r.method} ${r.path}`);

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["Date"], now: T0 });
  unmatched = [];
  nock.emitter.on("no match", onNoMatch);
});
afterEach(() => {
  nock.emitter.removeListener("no match", onNoMatch);
  nock.cleanAll();
  vi.useRealTimers();
});

describe("bg-agent run --once: human activity from GitHub", () => {
  it("a human comment 2 minutes ago: no LLM call, and the output says people are active, who, what and until when", async () => {
    const req: Requests = { activity: 0 };
    const seen: Seen = {
      // Newer, but bots: the Action's own token user and another app.
      events: [
        {
          type: "IssueCommentEvent",
          actor: { login: "github-actions[bot]" },
          created_at: iso(T0 - 30_000),
          payload: { issue: { number: 3 } },
        },
        {
          type: "PushEvent",
          actor: { login: "alice" },
          created_at: iso(T0 - 3 * HOUR),
          payload: { ref: "refs/heads/main" },
        },
      ],
      comments: [
        comment({ at: T0 - MIN, login: "renovate[bot]", type: "Bot" }),
        comment({ at: T0 - 2 * MIN }),
      ],
    };
    const { scope } = github(seen, null, req);
    const llm = fakeLlm([]);
    const r = await cli(["run", "--once", "--mode", "analyze"], workspace("tech_debt: {}\n"), {
      processors: fakeProcessors(),
      createLlm: () => llm,
    });
    expect(r.stderr).not.toMatch(/"level":"error"/);
    expect(r.code).toBe(0);
    expect(llm.calls).toHaveLength(0);
    // The window (5 minutes by default) ends 5 minutes after the comment: 12:03 UTC.
    expect(r.stdout).toContain(
      "held back: people are active (@alice commented on #12, 2m ago — LLM work waits until 12:03 UTC",
    );
    expect(r.stdout).toContain(
      "note: Last human activity: @alice commented on #12, 2m ago — LLM work waits until 12:03 UTC.",
    );
    expect(r.stdout).toContain("analysed 0");
    expect(unmatched).toEqual([]);
    expect(scope.pendingMocks()).toEqual([]);
  });

  it("the latest human activity 3 hours ago: the labelled issues are analysed", async () => {
    const req: Requests = { activity: 0 };
    const seen: Seen = {
      events: [
        {
          type: "IssuesEvent",
          actor: { login: "bob" },
          created_at: iso(T0 - 3 * HOUR),
          payload: { action: "opened", issue: { number: 2 } },
        },
      ],
      // bg-agent's own comment, written with a personal token (a person's login): not activity.
      comments: [
        comment({ at: T0 - MIN, login: "carol", body: "<!-- bg-agent:reply:9 -->\nDone." }),
      ],
    };
    const { scope } = github(seen, null, req);
    scope
      .get("/repos/octo/demo/issues")
      .query((q) => q.labels === "tech-debt")
      .reply(200, [
        { number: 2, title: "old code", body: "", labels: [] },
        { number: 3, title: "older code", body: "", labels: [] },
      ]);
    const llm = fakeLlm(['{"ok":true}']);
    const r = await cli(["run", "--once", "--mode", "analyze"], workspace("tech_debt: {}\n"), {
      processors: fakeProcessors(),
      createLlm: () => llm,
    });
    expect(r.code).toBe(0);
    expect(llm.calls).toHaveLength(1);
    expect(r.stdout).toContain("analysed 2");
    expect(r.stdout).toContain("note: Last human activity: @bob opened issue #2, 3h ago.");
    expect(r.stdout).not.toContain("people are active");
    expect(unmatched).toEqual([]);
    expect(scope.pendingMocks()).toEqual([]);
  });

  it("an `idle: {minutes: 30}` task runs after 3 quiet hours, and not 5 minutes after a comment", async () => {
    const ws = workspace(
      "tasks:\n  - name: tidy\n    prompt: Look for stale branches.\n    idle: { minutes: 30 }\n    notify: never\n",
    );
    const run = async (lastComment: number, body: string | null) => {
      const req: Requests = { activity: 0 };
      const { scope, out } = github(
        { events: [], comments: [comment({ at: lastComment })] },
        body,
        req,
      );
      const llm = fakeLlm(["Nothing stale."]);
      const r = await cli(["run", "--once", "--mode", "tasks", "--json"], ws, {
        createLlm: () => llm,
      });
      expect(r.code).toBe(0);
      expect(unmatched).toEqual([]);
      expect(scope.pendingMocks()).toEqual([]);
      nock.cleanAll();
      return { llm, summary: JSON.parse(r.stdout) as RunSummary, written: out.written };
    };

    // 5 minutes after a comment: not quiet long enough. No LLM call.
    const early = await run(T0 - 5 * MIN, null);
    expect(early.llm.calls).toHaveLength(0);
    expect(early.summary.activity).toMatchObject({ login: "alice", at: T0 - 5 * MIN });
    const waiting = readState<HistoryState>(early.written)!.schedules.tidy!;
    // Checked again when 30 quiet minutes will have passed.
    expect(waiting.nextRunAt).toBe(T0 + 25 * MIN);

    // Three quiet hours later (a fresh runner, the state from the dashboard issue): it runs once.
    vi.setSystemTime(T0 + 3 * HOUR);
    const late = await run(T0 - 5 * MIN, early.written);
    expect(late.llm.calls).toHaveLength(1);
    expect(late.summary.items).toEqual([
      expect.objectContaining({ type: "prompt_task", item: "schedule:tidy", outcome: "done" }),
    ]);
    expect(readState<HistoryState>(late.written)!.schedules.tidy).toMatchObject({
      lastRunAt: T0 + 3 * HOUR,
      runCount: 1,
      consecutiveFailures: 0,
    });
  });

  it("events API 403 (injected on every read): falls back to comment and issue timestamps and says so once", async () => {
    const req: Requests = { activity: 0 };
    const seen: Seen = { events: [], comments: [], eventsStatus: 403 };
    const { scope } = github(seen, null, req);
    scope
      .get("/repos/octo/demo/issues")
      .query((q) => q.sort === "created" && q.state === "all")
      .reply(200, [
        { number: 4, user: human, created_at: iso(T0 - MIN), pull_request: { url: "x" } },
      ])
      .get("/repos/octo/demo/pulls/comments")
      .query(true)
      .reply(200, []);
    const llm = fakeLlm([]);
    const r = await cli(
      ["run", "--once", "--mode", "analyze"],
      workspace("tech_debt: {}\n"),
      { processors: fakeProcessors(), createLlm: () => llm },
      { BG_ACTIVITY_RECHECK_SECONDS: "3600" },
    );
    expect(r.code).toBe(0);
    expect(llm.calls).toHaveLength(0);
    const warnings = r.stdout.split("\n").filter((l) => l.includes("events API answered 403"));
    expect(warnings).toHaveLength(1);
    expect(r.stdout).toContain("people are active (@alice opened PR #4, 1m ago");
    expect(unmatched).toEqual([]);
    expect(scope.pendingMocks()).toEqual([]);
  });
});

describe("bg-agent run --once: preemption", () => {
  it("a person comments while a prompt task is between tool calls (injected once): it stops after that call, is preempted (not failed), and completes on a later quiet run", async () => {
    const ws = workspace(
      "tasks:\n  - name: review\n    prompt: Look at the open pull requests.\n    every: 1d\n    tools: [list_pull_requests]\n    notify: never\n",
    );
    const toolTurn = {
      role: "assistant" as const,
      content: null,
      refusal: null,
      tool_calls: [1, 2].map((n) => ({
        id: `call_${n}`,
        type: "function" as const,
        function: { name: "list_pull_requests", arguments: '{"state":"open"}' },
      })),
    };

    // Run 1, quiet for hours: the task starts; during its first tool call alice comments.
    const seen: Seen = { events: [], comments: [comment({ at: T0 - 3 * HOUR })] };
    const first = github(seen, null, { activity: 0 });
    let pullsListed = 0;
    first.scope
      .get("/repos/octo/demo/pulls")
      .query(true)
      .reply(() => {
        pullsListed++;
        seen.comments = [comment({ at: Date.now(), issue: 5 })];
        return [200, [{ number: 9, title: "wip", state: "open", user: human }]];
      });
    const llm1 = fakeLlm([() => toolTurn]);
    const r1 = await cli(
      ["run", "--once", "--mode", "tasks", "--json"],
      ws,
      { createLlm: () => llm1 },
      { BG_ACTIVITY_RECHECK_SECONDS: "0" },
    );
    expect(r1.code).toBe(0);
    const s1 = JSON.parse(r1.stdout) as RunSummary;
    // One LLM call, one of its two tool calls; no second LLM call.
    expect(llm1.calls).toHaveLength(1);
    expect(pullsListed).toBe(1);
    expect(s1.failed).toEqual([]);
    expect(s1.items).toEqual([
      expect.objectContaining({
        type: "prompt_task",
        item: "schedule:review",
        outcome: "retry",
        detail: expect.stringMatching(
          /^preempted: .*people are active \(@alice commented on #5, 0s ago — LLM work waits until 12:05 UTC\)/,
        ),
      }),
    ]);
    const state1 = readState<HistoryState>(first.out.written)!.schedules.review!;
    // Not a failure: nothing toward the auto-pause; due again when the window ends.
    expect(state1).toMatchObject({
      status: "active",
      consecutiveFailures: 0,
      runCount: 0,
      nextRunAt: T0 + 5 * MIN,
    });
    expect(unmatched).toEqual([]);
    expect(first.scope.pendingMocks()).toEqual([]);
    nock.cleanAll();

    // Run 2, ten minutes later: quiet again. The task runs to the end, once.
    vi.setSystemTime(T0 + 10 * MIN);
    const second = github(
      { events: [], comments: [comment({ at: T0, issue: 5 })] },
      first.out.written,
      { activity: 0 },
    );
    const llm2 = fakeLlm(["One PR is open: #9."]);
    const r2 = await cli(["run", "--once", "--mode", "tasks", "--json"], ws, {
      createLlm: () => llm2,
    });
    expect(r2.code).toBe(0);
    const s2 = JSON.parse(r2.stdout) as RunSummary;
    expect(llm2.calls).toHaveLength(1);
    expect(s2.items).toEqual([
      expect.objectContaining({ item: "schedule:review", outcome: "done" }),
    ]);
    expect(readState<HistoryState>(second.out.written)!.schedules.review).toMatchObject({
      status: "active",
      consecutiveFailures: 0,
      runCount: 1,
      lastRunAt: T0 + 10 * MIN,
    });
    expect(unmatched).toEqual([]);
    expect(second.scope.pendingMocks()).toEqual([]);
  });
});

describe("bg-agent run --once: /bg status", () => {
  it("answers with who did what and until when LLM work waits", async () => {
    const status = {
      ...comment({ at: T0 - 2 * MIN, body: "/bg status" }),
      id: 55,
      html_url: "https://github.com/octo/demo/issues/12#issuecomment-55",
    };
    const seen: Seen = { events: [], comments: [status] };
    // The scan for commands lists the same comment.
    const { scope } = github(seen, null, { activity: 0 }, [status]);
    const replies: string[] = [];
    scope
      .post("/repos/octo/demo/issues/comments/55/reactions")
      .reply(201, { id: 1, content: "eyes" })
      .get("/repos/octo/demo/issues/12/comments")
      .query(true)
      .reply(200, [])
      .post("/repos/octo/demo/issues/12/comments", (b: { body: string }) => {
        replies.push(b.body);
        return true;
      })
      .reply(201, { id: 56, html_url: "https://github.com/octo/demo/issues/12#issuecomment-56" });
    const r = await cli(["run", "--once", "--mode", "tasks"], workspace("tech_debt: {}\n"), {
      createLlm: () => fakeLlm([]),
    });
    expect(r.code).toBe(0);
    expect(replies).toHaveLength(1);
    expect(replies[0]).toContain(
      "**People are active.** Last human activity: @\u200dalice commented on #12, 2m ago — LLM work waits until 12:03 UTC.",
    );
    expect(unmatched).toEqual([]);
    expect(scope.pendingMocks()).toEqual([]);
  });
});

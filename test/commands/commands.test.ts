import nock from "nock";
import { beforeEach, describe, expect, it } from "vitest";
import { commandProcessor } from "../../src/commands/processor.js";
import { onIssueComment } from "../../src/intake/issue-comment.js";
import type { SqliteStore as Store } from "../../src/store/index.js";
import type { Task } from "../../src/core/domain.js";
import { runPass } from "../../src/worker/pass.js";
import type { Processor, TaskOutcome } from "../../src/core/worker-contract.js";
import { testEnv } from "../helpers/context.js";
import { memoryStore } from "../helpers/store.js";
import {
  COMMENT_ID,
  READER,
  REPO,
  WRITER,
  commentEvent,
  intakeDeps,
  mockGitHub,
} from "./helpers.js";

const TASKS_CONFIG = {
  tasks: [
    { name: "debt-digest", prompt: "Summarise the open tech-debt issues.", every: "1d" },
    { name: "off-task", prompt: "x", every: "1d", enabled: false },
  ],
};

/** A `fix` processor that records what it was handed. */
function stubFix(): Processor & { got: Task[] } {
  const got: Task[] = [];
  return {
    type: "fix",
    usesLlm: true,
    got,
    batchSize: () => 5,
    async process(_ctx, tasks) {
      got.push(...tasks);
      return new Map<number, TaskOutcome>(tasks.map((t) => [t.id, { status: "done" }]));
    },
  };
}

let store: Store;
beforeEach(async () => {
  store = await memoryStore();
});

/** Webhook -> intake -> one worker pass. */
async function comment(
  body: string,
  o: {
    config?: unknown;
    pr?: boolean;
    login?: string;
    delivery?: string;
    processors?: Processor[];
  } = {},
) {
  const r = await onIssueComment(intakeDeps(store), commentEvent({ body, ...o }));
  const summary = await runPass(
    testEnv(store, { config: o.config ?? TASKS_CONFIG }),
    o.processors ?? [commandProcessor()],
  );
  return { intake: r, summary };
}

async function proposeFix(hash = "h1") {
  return await store.proposals.propose({
    repo: REPO,
    kind: "fix",
    target: "issue:1",
    contentHash: hash,
    payload: {
      key: `${REPO}#1`,
      plan: "Extract the retry helper.",
      affectedFiles: ["src/a.ts"],
      complexity: "low",
    },
  });
}

const audit = async () => await store.audit.list({ repo: REPO });

describe("/bg commands from a writer", () => {
  it("approve on an issue approves the fix plan, reacts, replies once and audits; the next pass starts the fix", async () => {
    const proposal = await proposeFix();
    const gh = mockGitHub({ permission: WRITER });
    const fix = stubFix();
    await comment("Plan looks right.\n/bg approve", { processors: [commandProcessor()] });

    expect(gh.reactions).toEqual(["eyes"]);
    expect(gh.replies).toHaveLength(1);
    expect(gh.replies[0]).toContain(`<!-- bg-agent:reply:${COMMENT_ID} -->`);
    expect(gh.replies[0]).toContain("> `/bg approve`");
    expect(gh.replies[0]).toContain("Approved the fix plan (proposal");
    expect(await store.proposals.get(proposal.id)).toMatchObject({
      status: "approved",
      decidedBy: "Codertocat",
    });
    expect(await audit()).toEqual([
      expect.objectContaining({
        actor: "Codertocat",
        command: "approve",
        target: "issue:1",
        deliveryId: "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        result: expect.stringMatching(/^approved proposal \d+; fix task \d+ queued$/),
      }),
    ]);
    expect(nock.pendingMocks()).toEqual([]);

    // The worker's next pass hands the approved work to the fix processor.
    await runPass(testEnv(store, { config: TASKS_CONFIG }), [commandProcessor(), fix]);
    expect(fix.got.map((t) => ({ source: t.source, payload: t.payload }))).toEqual([
      {
        source: "issue:1",
        payload: {
          key: `${REPO}#1`,
          proposalId: proposal.id,
          // What was approved travels with the task (a connected runner has no copy of the store).
          approved: {
            by: "Codertocat",
            at: expect.any(Number),
            contentHash: "h1",
            plan: "Extract the retry helper.",
            affectedFiles: ["src/a.ts"],
          },
        },
      },
    ]);
  });

  it("reject dismisses the plan with the reason; the next pass runs nothing and it is not proposed again", async () => {
    const proposal = await proposeFix();
    const gh = mockGitHub({ permission: WRITER });
    const fix = stubFix();
    await comment("/bg reject not worth the churn", { processors: [commandProcessor(), fix] });
    expect(await store.proposals.get(proposal.id)).toMatchObject({
      status: "rejected",
      reason: "not worth the churn",
    });
    expect(gh.replies[0]).toContain("Rejected the fix plan");
    expect(gh.replies[0]).toContain("not worth the churn");
    expect((await audit())[0]).toMatchObject({ command: "reject", args: "not worth the churn" });

    const next = await runPass(testEnv(store, { config: TASKS_CONFIG }), [commandProcessor(), fix]);
    expect(next.repos.flatMap((r) => r.processed)).toEqual([]);
    expect(fix.got).toEqual([]);
    expect(await store.tasks.list({ repo: REPO, type: "fix" })).toEqual([]);
    // Analysing the same content again does not re-open it.
    expect((await proposeFix()).status).toBe("rejected");
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("approve on a bg-agent PR approves its merge and queues an automerge evaluation", async () => {
    const p = await store.proposals.propose({
      repo: REPO,
      kind: "merge",
      target: "pr:1",
      contentHash: "sha1",
    });
    const gh = mockGitHub({ permission: WRITER });
    await comment("/bg approve", { pr: true });
    expect((await store.proposals.get(p.id))?.status).toBe("approved");
    expect(await store.tasks.list({ repo: REPO, type: "automerge" })).toEqual([
      expect.objectContaining({ source: "pr:1", payload: { pr: 1 }, status: "pending" }),
    ]);
    expect(gh.replies[0]).toContain("Approved the merge of this PR");
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("approve on a PR bg-agent did not open says so, and changes nothing", async () => {
    const gh = mockGitHub({ permission: WRITER });
    await comment("/bg approve", { pr: true });
    expect(gh.replies[0]).toContain("There is nothing to approve on this pull request");
    expect(await store.tasks.list({ repo: REPO, type: "automerge" })).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("approve of a proposed task activates its schedule", async () => {
    await store.schedules.upsert({
      repo: REPO,
      name: "weekly-report",
      spec: { name: "weekly-report", prompt: "p", every: "7d" },
      specHash: "s1",
      origin: "proposed",
      status: "proposed",
      nextRunAt: null,
      maxRuns: null,
    });
    const p = await store.proposals.propose({
      repo: REPO,
      kind: "task",
      target: "task:weekly-report",
      contentHash: "s1",
      payload: { name: "weekly-report", issue: 1 },
    });
    const gh = mockGitHub({ permission: WRITER });
    await comment("/bg approve");
    expect((await store.proposals.get(p.id))?.status).toBe("approved");
    expect((await store.schedules.get(REPO, "weekly-report"))?.status).toBe("active");
    expect(gh.replies[0]).toContain("its schedule is active now");
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("approve with nothing proposed gives a helpful reply", async () => {
    const gh = mockGitHub({ permission: WRITER });
    await comment("/bg approve");
    expect(gh.replies[0]).toContain("There is nothing to approve on this issue");
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("pause 2h and resume change the repository's pause state", async () => {
    const gh = mockGitHub({ permission: WRITER });
    const before = Date.now();
    await comment("/bg pause 2h");
    const paused = await store.activity.manualPause(REPO);
    expect(paused).toMatchObject({ paused: true, pausedBy: "Codertocat" });
    expect(paused!.pausedUntil! - before).toBeGreaterThanOrEqual(2 * 3_600_000);
    expect(paused!.pausedUntil! - before).toBeLessThan(2 * 3_600_000 + 60_000);
    expect(gh.replies[0]).toContain("Paused: no LLM work and no merges in this repository for 2h");
    expect((await audit())[0]).toMatchObject({
      command: "pause",
      args: "2h",
      result: expect.stringMatching(/^paused until /),
    });

    const gh2 = mockGitHub({ permission: WRITER, commentId: 5001 });
    await onIssueComment(
      intakeDeps(store),
      commentEvent({ body: "/bg resume", commentId: 5001, delivery: "d-2" }),
    );
    await runPass(testEnv(store, { config: TASKS_CONFIG }), [commandProcessor()]);
    expect(await store.activity.manualPause(REPO)).toBeNull();
    expect(gh2.replies[0]).toContain("Resumed");
    expect((await audit()).map((a) => a.command)).toEqual(["resume", "pause"]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("run <task> queues the configured prompt task; an unknown task is named", async () => {
    const gh = mockGitHub({ permission: WRITER });
    await comment("/bg run debt-digest\n/bg run nope\n/bg run off-task");
    expect(await store.tasks.list({ repo: REPO, type: "prompt_task" })).toEqual([
      expect.objectContaining({
        source: "schedule:debt-digest",
        payload: { name: "debt-digest", manual: true, requestedBy: "Codertocat" },
      }),
    ]);
    const reply = gh.replies[0]!;
    expect(reply).toContain("Queued the task `debt-digest`");
    expect(reply).toContain("There is no task `nope`");
    expect(reply).toContain("Tasks here: `debt-digest`, `off-task`");
    expect(reply).toContain("`off-task` is disabled");
    expect((await audit()).map((a) => [a.command, a.args, a.result])).toEqual([
      ["run", "off-task", "task disabled"],
      ["run", "nope", "unknown task"],
      ["run", "debt-digest", expect.stringMatching(/^prompt_task \d+ queued$/)],
    ]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("status, budget and help answer in one reply, with no permission lookup and no audit", async () => {
    await store.spend.add(REPO, {
      promptTokens: 10,
      cachedTokens: 0,
      completionTokens: 5,
      costUsd: 0.25,
    });
    await store.tasks.enqueue({ repo: REPO, type: "tech_debt_analysis", source: "issue:7" });
    await store.activity.pause(REPO, "octo-admin", null);
    const gh = mockGitHub({ user: "someone" }); // no permission mock: none expected
    await comment("/bg status\n/bg budget\n/bg help", { login: "someone" });
    const reply = gh.replies[0]!;
    expect(reply).toContain("> `/bg status`");
    expect(reply).toContain("**Paused** (this repository) by @\u200docto-admin until resumed.");
    expect(reply).toMatch(/\| tech_debt_analysis \| 1 \| 0 \| 0 \| 0 \|/);
    expect(reply).toContain("> `/bg budget`");
    expect(reply).toContain("| Today (UTC) | $0.2500 | $1.00 | 25% |");
    expect(reply).toContain("> `/bg help`");
    expect(reply).toContain("`/bg run <task-name>`");
    expect(await audit()).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("simulate on an issue explains that it works on PRs", async () => {
    const gh = mockGitHub({});
    await comment("/bg simulate");
    expect(gh.replies[0]).toContain("`/bg simulate` works on pull requests");
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("simulate on a PR whose evaluation fails replies with the error instead of crashing", async () => {
    // The automerge module's stub throws until its helper lands: the reply must still come.
    const gh = mockGitHub({});
    const { summary } = await comment("/bg simulate", { pr: true });
    expect(gh.replies[0]).toMatch(
      /I could not evaluate this pull request: .+\. Nothing was merged/,
    );
    expect(summary.repos[0]!.processed[0]).toMatchObject({ outcome: "done" });
    expect(nock.pendingMocks()).toEqual([]);
  });
});

describe("who may command", () => {
  it("a reader is refused politely, with the permission needed, and nothing changes", async () => {
    const proposal = await proposeFix();
    const gh = mockGitHub({ permission: READER, user: "reader1" });
    await comment("/bg approve\n/bg pause", { login: "reader1" });
    expect((await store.proposals.get(proposal.id))?.status).toBe("proposed");
    expect(await store.activity.manualPause(REPO)).toBeNull();
    expect(await store.tasks.list({ repo: REPO, type: "fix" })).toEqual([]);
    expect(gh.replies[0]).toContain(
      "Sorry, this command needs write permission on this repository, and you have read permission.",
    );
    // One lookup for both commands; the refusals are audited.
    expect((await audit()).map((a) => a.result)).toEqual([
      expect.stringMatching(/^refused/),
      expect.stringMatching(/^refused/),
    ]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("triage and maintain come from role_name; min_permission is configurable", async () => {
    const p = await proposeFix();
    const gh = mockGitHub({
      permission: { permission: "write", role_name: "maintain" },
      user: "m1",
    });
    await comment("/bg approve", {
      login: "m1",
      config: { ...TASKS_CONFIG, commands: { min_permission: "maintain" } },
    });
    expect((await store.proposals.get(p.id))?.status).toBe("approved");
    expect(gh.replies).toHaveLength(1);

    const gh2 = mockGitHub({
      permission: { permission: "read", role_name: "triage" },
      user: "t1",
      commentId: 6001,
    });
    await onIssueComment(
      intakeDeps(store),
      commentEvent({ body: "/bg pause", login: "t1", commentId: 6001, delivery: "d-3" }),
    );
    await runPass(testEnv(store, { config: { commands: { min_permission: "maintain" } } }), [
      commandProcessor(),
    ]);
    expect(gh2.replies[0]).toContain(
      "needs maintain permission on this repository, and you have triage permission",
    );
    expect(await store.activity.manualPause(REPO)).toBeNull();
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a failed permission lookup (500) refuses with the reason, never allows", async () => {
    const p = await proposeFix();
    const gh = mockGitHub({ permission: 500 });
    await comment("/bg approve");
    expect((await store.proposals.get(p.id))?.status).toBe("proposed");
    expect(gh.replies[0]).toContain(
      "I could not confirm your permission, so I did not act: GitHub did not answer the permission check (HTTP 500)",
    );
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a bot's comment is never a command: no task, no API call", async () => {
    for (const [login, userType] of [
      ["dependabot[bot]", "User"],
      ["some-app", "Bot"],
      ["bg-agent[bot]", "Bot"],
    ] as const) {
      const r = await onIssueComment(
        intakeDeps(store, { selfLogin: "bg-agent[bot]" }),
        commentEvent({ body: "/bg approve", login, userType }),
      );
      expect(r).toEqual({ outcome: "ignored", reason: "comment by a bot" });
    }
    // Our own login even when GitHub reports it as a User (a token acting as bg-agent).
    const self = await onIssueComment(
      intakeDeps(store, { selfLogin: "bg-agent" }),
      commentEvent({ body: "/bg approve", login: "BG-Agent" }),
    );
    expect(self.outcome).toBe("ignored");
    expect(await store.tasks.list({ repo: REPO })).toEqual([]);
  });
});

describe("what is and is not a command", () => {
  it("/bg inside a code block or a quote is ignored: no task", async () => {
    const r = await onIssueComment(
      intakeDeps(store),
      commentEvent({
        body: "To approve, write:\n```\n/bg approve\n```\n> /bg approve\n    /bg approve",
      }),
    );
    expect(r).toEqual({ outcome: "ignored", reason: "no /bg command" });
    expect(await store.tasks.list({ repo: REPO })).toEqual([]);
  });

  it("edited and deleted comments are not (re-)run", async () => {
    for (const action of ["edited", "deleted"] as const) {
      const r = await onIssueComment(
        intakeDeps(store),
        commentEvent({ body: "/bg approve", action }),
      );
      expect(r).toEqual({ outcome: "ignored", reason: `action ${action}` });
    }
    expect(await store.tasks.list({ repo: REPO })).toEqual([]);
  });

  it("a payload without the fields bg-agent relies on is ignored", async () => {
    const r = await onIssueComment(intakeDeps(store), {
      id: "x",
      name: "issue_comment",
      payload: { action: "created" },
    });
    expect(r.outcome).toBe("ignored");
  });

  it("an unknown command or wrong arguments get a usage reply", async () => {
    const gh = mockGitHub({});
    await comment("/bg frobnicate\n/bg pause so:on");
    const reply = gh.replies[0]!;
    expect(reply).toContain("> `/bg frobnicate`");
    expect(reply).toContain(
      "`frobnicate` is not a bg-agent command. The commands are listed below.",
    );
    expect(reply).toContain("> `/bg pause so:on`");
    expect(reply).toContain(
      "`so:on` is neither a duration (30m, 2h, 1d) nor a task name. Usage: `/bg pause [duration | task-name]`",
    );
    expect(reply).toContain("**bg-agent commands:**");
    expect(reply).toContain("`/bg approve [what]`");
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("echoes a hostile line without HTML, so it cannot forge bg-agent's markers", async () => {
    const gh = mockGitHub({});
    await comment("/bg nope <!-- bg-agent:reply:1 --> `x`");
    expect(gh.replies[0]!.match(/<!--/g)).toHaveLength(1);
    expect(nock.pendingMocks()).toEqual([]);
  });
});

describe("once and only once", () => {
  it("the same delivery twice is handled once: one task, one reaction, one reply", async () => {
    await proposeFix();
    const wakes: number[] = [];
    const deps = intakeDeps(store, { wake: () => wakes.push(1) });
    const event = commentEvent({ body: "/bg approve" });
    const first = await onIssueComment(deps, event);
    const second = await onIssueComment(deps, structuredClone(event));
    expect(first.outcome).toBe("queued");
    expect(second.outcome).toBe("duplicate");
    expect(wakes).toHaveLength(1);
    const gh = mockGitHub({ permission: WRITER });
    await runPass(testEnv(store, { config: TASKS_CONFIG }), [commandProcessor()]);
    // Even after the task is done, a late redelivery does nothing.
    expect((await onIssueComment(deps, structuredClone(event))).outcome).toBe("duplicate");
    const again = await runPass(testEnv(store, { config: TASKS_CONFIG }), [commandProcessor()]);
    expect(again.repos.flatMap((r) => r.processed)).toEqual([]);
    expect(gh.replies).toHaveLength(1);
    expect(await store.tasks.list({ repo: REPO, type: "fix" })).toHaveLength(1);
    expect(await audit()).toHaveLength(1);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a retried task (the reply failed) updates its reply and does not act twice", async () => {
    await proposeFix();
    await onIssueComment(
      intakeDeps(store),
      commentEvent({ body: "/bg approve\n/bg run debt-digest" }),
    );
    mockGitHub({ permission: WRITER, replyStatus: 500 });
    const env = testEnv(store, { config: TASKS_CONFIG });
    const first = await runPass(env, [commandProcessor()]);
    expect(first.repos[0]!.processed[0]).toMatchObject({ outcome: "failed" });
    expect(nock.pendingMocks()).toEqual([]);

    // The retry: the earlier reply exists (say a timeout hid the success): updated by marker.
    const task = (await store.tasks.list({ repo: REPO, type: "command" }))[0]!;
    store.db.prepare("UPDATE tasks SET next_run_at = 0 WHERE id = ?").run(task.id);
    const gh = mockGitHub({
      existing: [{ id: 777, body: `<!-- bg-agent:reply:${COMMENT_ID} -->\nold` }],
    });
    await runPass(env, [commandProcessor()]);
    expect(gh.replies).toHaveLength(1);
    expect(gh.replies[0]).toContain("Handled earlier: approved proposal");
    expect(gh.replies[0]).toContain("Handled earlier: prompt_task");
    expect(await store.tasks.list({ repo: REPO, type: "fix" })).toHaveLength(1);
    expect(await store.tasks.list({ repo: REPO, type: "prompt_task" })).toHaveLength(1);
    expect(await audit()).toHaveLength(2);
    expect(nock.pendingMocks()).toEqual([]);
  });
});

describe("bad input", () => {
  it("a 64 KB comment full of /bg lines: at most max_per_comment acted on, the rest reported", async () => {
    const line = "/bg pause 1h\n";
    const count = Math.floor(65_536 / line.length);
    const gh = mockGitHub({ permission: WRITER });
    const { intake } = await comment(line.repeat(count), {
      config: { ...TASKS_CONFIG, commands: { max_per_comment: 3 } },
    });
    expect(intake).toMatchObject({ outcome: "queued" });
    const reply = gh.replies[0]!;
    expect(reply.match(/> `\/bg pause 1h`/g)).toHaveLength(3);
    expect(reply).toContain(
      `${count - 3} more \`/bg\` lines were not acted on: at most 3 commands per comment are.`,
    );
    expect(await audit()).toHaveLength(3);
    // The task payload stays small however big the comment.
    const task = (await store.tasks.list({ repo: REPO, type: "command" }))[0]!;
    expect(JSON.stringify(task.payload).length).toBeLessThan(5_000);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("on a repository with an invalid config, state-changing commands point at the config check run; status still works", async () => {
    const p = await proposeFix();
    const gh = mockGitHub({ permission: WRITER });
    const { summary } = await comment("/bg approve\n/bg status\n/bg pause", {
      config: { automerge: { method: "yolo" } },
    });
    expect(summary.repos[0]!.processed[0]).toMatchObject({ type: "command", outcome: "done" });
    const reply = gh.replies[0]!;
    expect(reply).toContain(
      "`.github/bg-agent.yml` is invalid, so I did not act on this. The `bg-agent/config` check run",
    );
    expect(reply).toContain("**The config file `.github/bg-agent.yml` is invalid**");
    // pause does not depend on the config: it works, with a note.
    expect(reply).toContain("Paused");
    expect((await store.proposals.get(p.id))?.status).toBe("proposed");
    expect((await audit()).map((a) => [a.command, a.result])).toEqual([
      ["pause", "paused until resumed"],
      ["approve", "refused: the config file is invalid"],
    ]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("dry-run: no reaction, no reply, no state change", async () => {
    const p = await proposeFix();
    mockGitHub({ permission: WRITER, reaction: false, reply: false });
    await onIssueComment(intakeDeps(store), commentEvent({ body: "/bg approve\n/bg pause" }));
    const s = await runPass(testEnv(store, { config: TASKS_CONFIG, dryRun: true }), [
      commandProcessor(),
    ]);
    expect(s.repos[0]!.processed[0]).toMatchObject({ outcome: "done" });
    expect((await store.proposals.get(p.id))?.status).toBe("proposed");
    expect(await store.activity.manualPause(REPO)).toBeNull();
    expect(await audit()).toEqual([]);
    expect((await store.tasks.list({ repo: REPO, type: "command" }))[0]?.status).toBe("pending");
    expect(nock.pendingMocks()).toEqual([]);
  });
});

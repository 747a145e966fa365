import nock from "nock";
import { beforeEach, describe, expect, it } from "vitest";
import { parseLine } from "../../src/commands/parse.js";
import { commandProcessor } from "../../src/commands/processor.js";
import { parseConfig } from "../../src/config/load.js";
import type { RepoConfig } from "../../src/config/schema.js";
import { onIssueComment } from "../../src/intake/issue-comment.js";
import { linearApproveHint } from "../../src/processors/analysis/report.js";
import { recordFailure } from "../../src/schedule/lifecycle.js";
import { proposeTask } from "../../src/schedule/proposals.js";
import { syncSchedules } from "../../src/schedule/sync.js";
import type { Store } from "../../src/store/index.js";
import type { Task } from "../../src/core/domain.js";
import { REQUESTED_PRIORITY } from "../../src/core/paused.js";
import { runPass } from "../../src/worker/pass.js";
import type { Processor, TaskOutcome } from "../../src/core/worker-contract.js";
import { testEnv } from "../helpers/context.js";
import { memoryStore } from "../helpers/store.js";
import { REPO, WRITER, commentEvent, intakeDeps, mockGitHub } from "./helpers.js";

const TASKS_CONFIG = {
  tasks: [
    { name: "debt-digest", prompt: "Summarise the open tech-debt issues.", every: "1d" },
    { name: "off-task", prompt: "x", every: "1d", enabled: false },
  ],
};
const config = (): RepoConfig => {
  const r = parseConfig(TASKS_CONFIG);
  if (!r.ok) throw new Error("test config invalid");
  return r.config;
};

/** A processor of `type` that records what it was handed. */
function stub(type: "prompt_task" | "fix"): Processor & { got: Task[] } {
  const got: Task[] = [];
  return {
    type,
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
  o: { issue?: number; pr?: boolean; processors?: Processor[] } = {},
) {
  await onIssueComment(intakeDeps(store), commentEvent({ body, ...o }));
  return runPass(testEnv(store, { config: TASKS_CONFIG }), o.processors ?? [commandProcessor()]);
}

const audit = async () => await store.audit.list({ repo: REPO });

describe("/bg run goes through the schedule's manual run", () => {
  it("queues at the requested priority, so it runs while people are active", async () => {
    const gh = mockGitHub({ permission: WRITER });
    const prompt = stub("prompt_task");
    // No pass has synced the config's tasks yet: the handler does.
    expect(await store.schedules.get(REPO, "debt-digest")).toBeUndefined();
    // Someone is at work in the repository: LLM work would wait 5 minutes.
    await store.activity.recordHuman(REPO, "alice");
    await comment("/bg run debt-digest", { processors: [commandProcessor(), prompt] });

    expect(gh.replies[0]).toContain("Queued the task `debt-digest`");
    expect(await store.activity.isActive(REPO, 5 * 60_000)).toBe(true);
    const [task] = await store.tasks.list({ repo: REPO, type: "prompt_task" });
    expect(task).toMatchObject({
      source: "schedule:debt-digest",
      payload: { name: "debt-digest", manual: true, requestedBy: "Codertocat" },
    });
    expect(task!.priority).toBeGreaterThanOrEqual(REQUESTED_PRIORITY);
    if (!prompt.got.length)
      await runPass(testEnv(store, { config: TASKS_CONFIG }), [commandProcessor(), prompt]);
    expect(prompt.got.map((t) => t.id)).toEqual([task!.id]);
    expect((await store.schedules.get(REPO, "debt-digest"))?.status).toBe("active");
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a scheduled run already queued is reused and raised to the requested priority", async () => {
    await syncSchedules(store, REPO, config().tasks);
    const queued = (
      await store.tasks.enqueue({
        repo: REPO,
        type: "prompt_task",
        source: "schedule:debt-digest",
        payload: { name: "debt-digest" },
        runAt: Date.now() + 3_600_000,
      })
    ).task;
    const gh = mockGitHub({ permission: WRITER });
    await comment("/bg run debt-digest");
    expect(gh.replies[0]).toContain(
      `Queued the task \`debt-digest\` (it was queued already) (task ${queued.id})`,
    );
    const [task] = await store.tasks.list({ repo: REPO, type: "prompt_task" });
    expect(task).toMatchObject({ id: queued.id, payload: { manual: true } });
    expect(task!.priority).toBeGreaterThanOrEqual(REQUESTED_PRIORITY);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a task bg-agent proposed cannot be run before it is approved", async () => {
    await proposeTask(
      store,
      REPO,
      config(),
      { name: "idea", prompt: "p", every: "1d" },
      Date.now(),
      {
        issue: 1,
      },
    );
    const gh = mockGitHub({ permission: WRITER });
    await comment("/bg run idea");
    expect(gh.replies[0]).toContain("I did not queue `idea`: idea is proposed: approve it first.");
    expect(await store.tasks.list({ repo: REPO, type: "prompt_task" })).toEqual([]);
    expect((await audit())[0]).toMatchObject({
      command: "run",
      result: "not queued: idea is proposed: approve it first",
    });
    expect(nock.pendingMocks()).toEqual([]);
  });
});

describe("/bg approve and reject of a task proposal go through approveTask / rejectTask", () => {
  const def = { name: "weekly-chores", prompt: "List the chores.", every: "7d" };

  it("a plain /bg approve on the issue the task was proposed on activates its schedule", async () => {
    const proposed = await proposeTask(store, REPO, config(), def, Date.now(), { issue: 1 });
    if (!proposed.ok) throw new Error(proposed.why);
    expect(proposed.proposal.payload).toMatchObject({ issue: 1 });
    const gh = mockGitHub({ permission: WRITER });
    await comment("/bg approve");
    expect(await store.proposals.get(proposed.proposal.id)).toMatchObject({
      status: "approved",
      decidedBy: "Codertocat",
    });
    const s = (await store.schedules.get(REPO, "weekly-chores"))!;
    expect(s).toMatchObject({ status: "active", runCount: 0 });
    expect(s.nextRunAt).not.toBeNull();
    expect(gh.replies[0]).toContain(
      `Approved the proposed task \`weekly-chores\` (proposal ${proposed.proposal.id}): its schedule is active now (first run at `,
    );
    expect((await audit())[0]).toMatchObject({
      target: "task:weekly-chores",
      result: `approved proposal ${proposed.proposal.id}; schedule weekly-chores active`,
    });
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("on another issue a plain /bg approve does not find it", async () => {
    await proposeTask(store, REPO, config(), def, Date.now(), { issue: 1 });
    const gh = mockGitHub({ permission: WRITER, issue: 2 });
    await comment("/bg approve", { issue: 2 });
    expect(gh.replies[0]).toContain("There is nothing to approve on this issue");
    expect((await store.schedules.get(REPO, "weekly-chores"))?.status).toBe("proposed");
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a proposal that no longer matches its schedule's definition is not approved", async () => {
    const proposed = await proposeTask(store, REPO, config(), def, Date.now(), { issue: 1 });
    if (!proposed.ok) throw new Error(proposed.why);
    await store.schedules.update(proposed.schedule.id, { specHash: "edited-since" });
    const gh = mockGitHub({ permission: WRITER });
    await comment("/bg approve task:weekly-chores");
    expect(gh.replies[0]).toContain("I could not approve the proposed task `weekly-chores`");
    expect(gh.replies[0]).toContain("does not match its definition any more");
    expect((await store.proposals.get(proposed.proposal.id))?.status).toBe("proposed");
    expect((await store.schedules.get(REPO, "weekly-chores"))?.status).toBe("proposed");
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("/bg reject removes the proposed schedule, keeps the reason, and the definition stays rejected", async () => {
    const proposed = await proposeTask(store, REPO, config(), def, Date.now(), { issue: 1 });
    if (!proposed.ok) throw new Error(proposed.why);
    const gh = mockGitHub({ permission: WRITER });
    await comment("/bg reject task:weekly-chores we have a bot for that");
    expect(await store.proposals.get(proposed.proposal.id)).toMatchObject({
      status: "rejected",
      reason: "we have a bot for that",
    });
    expect(await store.schedules.get(REPO, "weekly-chores")).toBeUndefined();
    expect(gh.replies[0]).toContain("Rejected the proposed task `weekly-chores`");
    expect(gh.replies[0]).toContain("its proposed schedule is removed");
    expect(await proposeTask(store, REPO, config(), def)).toMatchObject({
      ok: false,
      why: "this definition of weekly-chores was rejected before",
    });
    expect(nock.pendingMocks()).toEqual([]);
  });
});

describe("/bg resume <task>", () => {
  it("resumes a task stopped by failures; unknown and disabled tasks are explained; plain resume still ends the repository's pause", async () => {
    await syncSchedules(store, REPO, config().tasks);
    const spec = config().tasks[0]!;
    await recordFailure(
      store,
      (await store.schedules.get(REPO, "debt-digest"))!,
      spec,
      "LLM said no",
    );
    await recordFailure(
      store,
      (await store.schedules.get(REPO, "debt-digest"))!,
      spec,
      "LLM said no",
    );
    expect((await store.schedules.get(REPO, "debt-digest"))?.status).toBe("paused");
    await store.activity.pause(REPO, "octo-admin", null);

    const gh = mockGitHub({ permission: WRITER });
    await comment("/bg resume debt-digest\n/bg resume off-task\n/bg resume nope\n/bg resume");
    const reply = gh.replies[0]!;
    expect(await store.schedules.get(REPO, "debt-digest")).toMatchObject({
      status: "active",
      consecutiveFailures: 0,
    });
    expect(reply).toContain(
      "▶️ Resumed the task `debt-digest` (it was paused: failed twice in a row: LLM said no). Its next run is at ",
    );
    expect(reply).toContain("bg-agent itself is paused in this repository");
    expect(reply).toContain(
      "I did not resume `off-task`: off-task is disabled in .github/bg-agent.yml",
    );
    expect(reply).toContain(
      "There is no task `nope` in this repository. Tasks here: `debt-digest`, `off-task`.",
    );
    expect(reply).toContain("▶️ Resumed: background work continues in this repository.");
    expect(await store.activity.manualPause(REPO)).toBeNull();
    expect((await audit()).map((a) => [a.args, a.target, a.result])).toEqual([
      [null, "issue:1", "resumed (was paused by octo-admin)"],
      ["nope", "task:nope", "unknown task"],
      ["off-task", "task:off-task", expect.stringMatching(/^not resumed: off-task is disabled/)],
      [
        "debt-digest",
        "task:debt-digest",
        expect.stringMatching(/^resumed task \(was paused: failed twice/),
      ],
    ]);
    expect(nock.pendingMocks()).toEqual([]);
  });
});

describe("Linear fix plans are approved by their identifier", () => {
  const proposeLinear = async (id: string) =>
    await store.proposals.propose({
      repo: REPO,
      kind: "fix",
      target: `linear:${id}`,
      contentHash: `h-${id}`,
      payload: { key: id, plan: "Do it.", affectedFiles: ["src/a.ts"], complexity: "low" },
    });

  it("the commands the analysis posts on Linear parse to what the handlers resolve", () => {
    const hint = linearApproveHint("ENG-123", REPO);
    const cmds = [...hint.matchAll(/`(\/bg [^`]+)`/g)].map((m) => parseLine(m[1]!));
    expect(cmds).toEqual([
      expect.objectContaining({ ok: true, command: { name: "approve", what: "ENG-123" } }),
      expect.objectContaining({ ok: true, command: { name: "reject", what: "ENG-123" } }),
    ]);
    expect(hint).toContain("dashboard issue");
  });

  it("/bg approve ENG-123 on any issue queues the fix; /bg reject eng-124 keeps the reason; an unknown id is named", async () => {
    const a = await proposeLinear("ENG-123");
    const b = await proposeLinear("ENG-124");
    const gh = mockGitHub({ permission: WRITER, issue: 42 });
    const fix = stub("fix");
    await comment(
      "/bg approve ENG-123\n/bg reject eng-124 duplicate of ENG-1\n/bg approve linear:ENG-999",
      {
        issue: 42,
        processors: [commandProcessor()],
      },
    );
    const reply = gh.replies[0]!;
    expect(reply).toContain(
      `✅ Approved the fix plan for ENG-123 (proposal ${a.id}). A fix is queued`,
    );
    expect(reply).toContain(`🚫 Rejected the fix plan for ENG-124 (proposal ${b.id})`);
    expect(reply).toContain(
      "bg-agent has no fix plan for the Linear issue ENG-999 in this repository",
    );
    expect((await store.proposals.get(a.id))?.status).toBe("approved");
    expect(await store.proposals.get(b.id)).toMatchObject({
      status: "rejected",
      reason: "duplicate of ENG-1",
    });
    expect((await audit()).map((x) => [x.command, x.target])).toEqual([
      ["approve", "issue:42"],
      ["reject", "linear:ENG-124"],
      ["approve", "linear:ENG-123"],
    ]);
    expect(nock.pendingMocks()).toEqual([]);

    await runPass(testEnv(store, { config: TASKS_CONFIG }), [commandProcessor(), fix]);
    expect(fix.got.map((t) => ({ source: t.source, payload: t.payload }))).toEqual([
      {
        source: "linear:ENG-123",
        payload: expect.objectContaining({ key: "ENG-123", proposalId: a.id }),
      },
    ]);
  });
});

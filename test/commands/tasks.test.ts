import nock from "nock";
import { beforeEach, describe, expect, it } from "vitest";
import { parseLine } from "../../src/commands/parse.js";
import { commandProcessor } from "../../src/commands/processor.js";
import { onIssueComment } from "../../src/intake/issue-comment.js";
import type { Store } from "../../src/store/index.js";
import { runPass } from "../../src/worker/pass.js";
import { testEnv } from "../helpers/context.js";
import { memoryStore } from "../helpers/store.js";
import { READER, REPO, WRITER, commentEvent, intakeDeps, mockGitHub } from "./helpers.js";

const CONFIG = {
  tasks: [
    { name: "debt-digest", prompt: "Summarise the open tech-debt issues.", every: "1d" },
    { name: "off-task", prompt: "x", every: "1d", enabled: false },
    { name: "nightly", prompt: "y", cron: "0 3 * * *" },
    { name: "2h", prompt: "a task named like a duration", every: "2h" },
  ],
};

let store: Store;
beforeEach(async () => {
  store = await memoryStore();
  nock.disableNetConnect();
});

async function comment(body: string, o: { login?: string; commentId?: number } = {}) {
  await onIssueComment(
    intakeDeps(store),
    commentEvent({ body, ...o, delivery: `d-${o.commentId ?? 0}` }),
  );
  return runPass(testEnv(store, { config: CONFIG }), [commandProcessor()]);
}

const audit = async () => await store.audit.list({ repo: REPO });
const spec = (name: string) => ({ name, prompt: "p", every: "1d" });

/** Schedules in the states config alone does not give: proposed, failed, done, paused by failures. */
async function seedOtherStates(): Promise<void> {
  await store.schedules.create({
    repo: REPO,
    name: "weekly-report",
    spec: spec("weekly-report"),
    specHash: "p1",
    origin: "proposed",
    status: "proposed",
    nextRunAt: null,
    maxRuns: null,
  });
  await store.schedules.create({
    repo: REPO,
    name: "one-shot",
    spec: { name: "one-shot", prompt: "p", once: true },
    specHash: "o1",
    origin: "proposed",
    status: "failed",
    statusReason: "failed twice in a row: the model timed out",
    nextRunAt: null,
    maxRuns: null,
  });
  await store.schedules.create({
    repo: REPO,
    name: "finished",
    spec: spec("finished"),
    specHash: "f1",
    origin: "proposed",
    status: "done",
    statusReason: "reached max_runs (3)",
    nextRunAt: null,
    maxRuns: 3,
  });
}

describe("/bg tasks", () => {
  it("lists every task in every state with trigger, next and last run and a link to the last result; a reader may ask", async () => {
    await seedOtherStates();
    await store.runs.record({
      repo: REPO,
      kind: "prompt_task",
      ref: "task:debt-digest",
      status: "changed",
      url: "https://github.com/Codertocat/Hello-World/issues/5#issuecomment-77",
    });
    const gh = mockGitHub({ user: "reader1" }); // open command: no permission lookup
    await comment("/bg tasks", { login: "reader1" });
    const reply = gh.replies[0]!;
    expect(reply).toContain("**7 prompt tasks:**");
    expect(reply).toMatch(
      /\| `debt-digest` \| ▶️ active \| every 1d \| \d{4}-\d\d-\d\dT[^|]+ \| \[changed [^\]]+\]\(https:\/\/github\.com\/Codertocat\/Hello-World\/issues\/5#issuecomment-77\) \|/,
    );
    expect(reply).toContain(
      "| `off-task` | ⏸️ paused: disabled in config (enabled: false) | every 1d | — | never |",
    );
    expect(reply).toContain("| `nightly` | ▶️ active | cron 0 3 * * * (UTC) |");
    expect(reply).toContain("| `weekly-report` | 💡 proposed |");
    expect(reply).toContain(
      "| `one-shot` | ❌ failed: failed twice in a row: the model timed out | once |",
    );
    expect(reply).toContain("| `finished` | ✅ done: reached max_runs (3) |");
    expect(await audit()).toEqual([]); // read-only: not audited
    expect(nock.pendingMocks()).toEqual([]);
  });
});

describe("/bg pause <task> and /bg resume <task>", () => {
  it("a writer pauses one task (audited); its queued run is cancelled; resume makes it due again; 0 runs lost or doubled for others", async () => {
    await comment("/bg tasks", { commentId: 1 }).catch(() => undefined);
    nock.cleanAll();
    await store.tasks.enqueue({
      repo: REPO,
      type: "prompt_task",
      source: "schedule:debt-digest",
      payload: { name: "debt-digest" },
    });
    const gh = mockGitHub({ permission: WRITER, commentId: 2 });
    await comment("/bg pause debt-digest", { commentId: 2 });
    expect(gh.replies[0]).toContain("Paused the task `debt-digest`");
    const s = (await store.schedules.get(REPO, "debt-digest"))!;
    expect(s.status).toBe("paused");
    expect(s.statusReason).toMatch(/^paused by @Codertocat/);
    expect((await store.schedules.get(REPO, "nightly"))?.status).toBe("active"); // the others run on
    expect(await store.activity.manualPause(REPO)).toBeNull(); // not a repository pause
    expect(
      (await store.tasks.list({ repo: REPO, type: "prompt_task" })).map((t) => t.status),
    ).toEqual(["cancelled"]);
    expect((await audit())[0]).toMatchObject({
      command: "pause",
      args: "debt-digest",
      target: "task:debt-digest",
      result: "paused task",
    });

    const gh2 = mockGitHub({ permission: WRITER, commentId: 3 });
    await comment("/bg resume debt-digest", { commentId: 3 });
    expect(gh2.replies[0]).toContain("Resumed the task `debt-digest`");
    expect(await store.schedules.get(REPO, "debt-digest")).toMatchObject({
      status: "active",
      statusReason: null,
    });
    expect((await audit()).map((a) => [a.command, a.result])).toEqual([
      ["resume", expect.stringMatching(/^resumed task \(was paused: paused by @Codertocat/)],
      ["pause", "paused task"],
    ]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a person's pause outlives an edit of the task in config", async () => {
    const gh = mockGitHub({ permission: WRITER, commentId: 4 });
    await comment("/bg pause nightly", { commentId: 4 });
    expect(gh.replies[0]).toContain("Paused the task `nightly`");
    const { syncSchedules } = await import("../../src/schedule/sync.js");
    const { parseConfig } = await import("../../src/config/load.js");
    const edited = parseConfig({
      tasks: [{ name: "nightly", prompt: "an edited prompt", cron: "0 4 * * *" }],
    });
    if (!edited.ok) throw new Error("bad config");
    await syncSchedules(store, REPO, edited.config.tasks);
    expect((await store.schedules.get(REPO, "nightly"))?.status).toBe("paused");
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a duration still pauses the repository; task:<name> pauses a task named like a duration", async () => {
    expect(parseLine("/bg pause 2h")).toMatchObject({ ok: true, command: { duration: "2h" } });
    expect(parseLine("/bg pause task:2h")).toMatchObject({ ok: true, command: { task: "2h" } });
    expect(parseLine("/bg pause nightly")).toMatchObject({
      ok: true,
      command: { task: "nightly" },
    });
    expect(parseLine("/bg pause <b>")).toMatchObject({
      ok: false,
      error: expect.stringContaining("neither a duration"),
    });
    const gh = mockGitHub({ permission: WRITER, commentId: 5 });
    await comment("/bg pause 2h\n/bg pause task:2h", { commentId: 5 });
    expect(await store.activity.manualPause(REPO)).toMatchObject({ paused: true });
    expect((await store.schedules.get(REPO, "2h"))?.status).toBe("paused");
    expect(gh.replies[0]).toContain("Paused: no LLM work and no merges in this repository for 2h");
    expect(gh.replies[0]).toContain("> `/bg pause task:2h`");
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a name that matches nothing gets a reply listing the task names; nothing changes", async () => {
    const gh = mockGitHub({ permission: WRITER, commentId: 6 });
    await comment("/bg pause nope\n/bg resume nope", { commentId: 6 });
    const reply = gh.replies[0]!;
    expect(reply).toContain(
      "There is no task `nope` in this repository. Tasks here: `2h`, `debt-digest`, `nightly`, `off-task`.",
    );
    expect(reply).toContain("pauses the repository");
    expect((await store.schedules.list(REPO)).filter((s) => s.status === "paused")).toHaveLength(1); // off-task only
    expect((await audit()).map((a) => a.result)).toEqual(["unknown task", "unknown task"]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a reader's /bg pause <task> is refused with a reply; the task keeps running", async () => {
    await comment("/bg tasks", { commentId: 7 }).catch(() => undefined);
    nock.cleanAll();
    const gh = mockGitHub({ permission: READER, user: "reader1", commentId: 8 });
    await comment("/bg pause debt-digest", { login: "reader1", commentId: 8 });
    expect(gh.replies[0]).toContain("this command needs write permission");
    expect((await store.schedules.get(REPO, "debt-digest"))?.status).toBe("active");
    expect((await audit()).map((a) => [a.command, a.result])).toEqual([
      ["pause", expect.stringMatching(/^refused/)],
    ]);
    expect(nock.pendingMocks()).toEqual([]);
  });
});

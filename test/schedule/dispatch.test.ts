import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { dispatchDue, specOf } from "../../src/schedule/due.js";
import { recordSuccess } from "../../src/schedule/lifecycle.js";
import { syncSchedules } from "../../src/schedule/sync.js";
import type { Store } from "../../src/store/index.js";
import { memoryStore } from "../helpers/store.js";
import { HOUR, MIN, REPO, openTaskNames, t, tasksOf } from "./helpers.js";

let store: Store;

beforeEach(async () => {
  vi.useFakeTimers();
  vi.setSystemTime(t("2025-03-03T10:00:00Z"));
  store = await memoryStore();
});
afterEach(() => {
  vi.useRealTimers();
});

/** Syncs the tasks and dispatches what is due at the fake clock's now; returns the names queued. */
async function tick(raw: unknown[]): Promise<string[]> {
  await syncSchedules(store, REPO, tasksOf(raw));
  return (await dispatchDue(store, REPO)).enqueued.filter((e) => e.created).map((e) => e.name);
}

/** The worker ran the open task of `name` successfully (at the fake clock's now). */
async function finishRun(name: string): Promise<void> {
  const [task] = await store.tasks.claim({ owner: "w", leaseMs: MIN, limit: 1, repo: REPO });
  expect(task?.payload.name).toBe(name);
  await store.tasks.complete(task!.id, "w", null);
  const s = (await store.schedules.get(REPO, name))!;
  await recordSuccess(store, s, specOf(s)!, { resultHash: "h", manual: false });
}

const advance = (ms: number) => vi.setSystemTime(Date.now() + ms);

describe("every", () => {
  const tasks = [{ name: "digest", prompt: "p", every: "30m" }];

  it("runs a new task at its first chance, then every interval and not before", async () => {
    expect(await tick(tasks)).toEqual(["digest"]);
    await finishRun("digest");
    advance(29 * MIN);
    expect(await tick(tasks)).toEqual([]);
    advance(MIN);
    expect(await tick(tasks)).toEqual(["digest"]);
    await finishRun("digest");
    advance(29 * MIN + 59_000);
    expect(await tick(tasks)).toEqual([]);
  });

  it("keeps slots anchored: a late pass does not push the next slot back", async () => {
    await tick(tasks);
    await finishRun("digest");
    advance(42 * MIN); // the pass came 12 minutes late
    expect(await tick(tasks)).toEqual(["digest"]);
    await finishRun("digest");
    expect((await store.schedules.get(REPO, "digest"))?.nextRunAt).toBe(t("2025-03-03T11:00:00Z"));
  });

  it("keeps one open task per schedule while a run waits", async () => {
    expect(await tick(tasks)).toEqual(["digest"]);
    advance(HOUR); // not run yet (people active, budget...): the next slot passes
    expect(await tick(tasks)).toEqual([]);
    expect(await openTaskNames(store)).toEqual(["digest"]);
  });
});

describe("cron", () => {
  const tasks = [{ name: "nightly", prompt: "p", cron: "0 3 * * *", timezone: "Europe/Paris" }];

  it("waits for its first slot, in its timezone, and fires then", async () => {
    expect(await tick(tasks)).toEqual([]);
    // 03:00 in Paris is 02:00 UTC in March (before the clocks change).
    vi.setSystemTime(t("2025-03-04T01:59:59Z"));
    expect(await tick(tasks)).toEqual([]);
    vi.setSystemTime(t("2025-03-04T02:00:00Z"));
    expect(await tick(tasks)).toEqual(["nightly"]);
    await finishRun("nightly");
    expect((await store.schedules.get(REPO, "nightly"))?.nextRunAt).toBe(t("2025-03-05T02:00:00Z"));
  });

  it("runs a slot missed while the app was down once, not once per missed slot", async () => {
    await tick(tasks);
    // Down from before the first slot until three days later.
    vi.setSystemTime(t("2025-03-07T09:30:00Z"));
    expect(await tick(tasks)).toEqual(["nightly"]);
    expect(await store.tasks.list({ repo: REPO, type: "prompt_task" })).toHaveLength(1);
    await finishRun("nightly");
    expect(await tick(tasks)).toEqual([]);
    expect((await store.schedules.get(REPO, "nightly"))?.nextRunAt).toBe(t("2025-03-08T02:00:00Z"));
  });
});

describe("idle", () => {
  const tasks = [{ name: "tidy", prompt: "p", idle: { minutes: 30, cooldown_minutes: 120 } }];

  it("fires after the quiet period, respects the cooldown, and needs new activity", async () => {
    expect(await tick(tasks)).toEqual([]); // no human activity recorded yet
    await store.activity.recordHuman(REPO, "alice");
    advance(29 * MIN);
    expect(await tick(tasks)).toEqual([]);
    advance(MIN);
    expect(await tick(tasks)).toEqual(["tidy"]);
    await finishRun("tidy");
    advance(4 * HOUR);
    expect(await tick(tasks)).toEqual([]); // quiet, but nothing happened since the last run

    await store.activity.recordHuman(REPO, "bob");
    advance(30 * MIN);
    expect(await tick(tasks)).toEqual(["tidy"]);
    await finishRun("tidy");

    // Activity right after the run: quiet for 30 minutes is not enough, the cooldown is 2h.
    advance(MIN);
    await store.activity.recordHuman(REPO, "carol");
    advance(31 * MIN);
    expect(await tick(tasks)).toEqual([]);
    advance(87 * MIN);
    expect(await tick(tasks)).toEqual([]);
    advance(MIN); // 2h after the run
    expect(await tick(tasks)).toEqual(["tidy"]);
  });

  it("is deferred by activity during the quiet period", async () => {
    await tick(tasks);
    await store.activity.recordHuman(REPO, "alice");
    advance(20 * MIN);
    await store.activity.recordHuman(REPO, "alice");
    advance(20 * MIN);
    expect(await tick(tasks)).toEqual([]);
    advance(10 * MIN);
    expect(await tick(tasks)).toEqual(["tidy"]);
  });
});

describe("once", () => {
  it("runs once at its first chance and is done", async () => {
    const tasks = [{ name: "hello", prompt: "p", once: true }];
    expect(await tick(tasks)).toEqual(["hello"]);
    await finishRun("hello");
    expect(await store.schedules.get(REPO, "hello")).toMatchObject({ status: "done", runCount: 1 });
    advance(24 * HOUR);
    expect(await tick(tasks)).toEqual([]);
  });
});

describe("max_runs", () => {
  it("ends a task after max_runs runs", async () => {
    const tasks = [{ name: "thrice", prompt: "p", every: "1h", max_runs: 3 }];
    for (let i = 0; i < 3; i++) {
      expect(await tick(tasks)).toEqual(["thrice"]);
      await finishRun("thrice");
      advance(HOUR);
    }
    expect(await store.schedules.get(REPO, "thrice")).toMatchObject({
      status: "done",
      runCount: 3,
      statusReason: "reached max_runs (3)",
    });
    advance(10 * HOUR);
    expect(await tick(tasks)).toEqual([]);
  });
});

describe("dry-run", () => {
  it("queues due tasks but moves no schedule", async () => {
    await syncSchedules(store, REPO, tasksOf([{ name: "digest", prompt: "p", every: "30m" }]));
    const before = (await store.schedules.get(REPO, "digest"))!;
    const r = await dispatchDue(store, REPO, Date.now(), { dryRun: true });
    expect(r.enqueued.map((e) => e.name)).toEqual(["digest"]);
    expect((await store.schedules.get(REPO, "digest"))?.nextRunAt).toBe(before.nextRunAt);
  });
});

describe("due selection", () => {
  it("goes through the (status, next_run_at) index, not a scan", async () => {
    const plan = await store.schedules.explainDue();
    expect(plan.global.join("\n")).toMatch(
      /SEARCH schedules USING COVERING INDEX schedules_due \(status=\? AND next_run_at<\?\)/,
    );
    expect(plan.repos.join("\n")).toMatch(/USING COVERING INDEX schedules_due/);
    expect(plan.repo.join("\n")).toMatch(
      /USING INDEX schedules_repo_due \(repo=\? AND status=\? AND next_run_at<\?\)/,
    );
  });

  it("lists the repositories with due schedules", async () => {
    await syncSchedules(store, "octo/a", tasksOf([{ name: "x", prompt: "p", every: "1h" }]));
    await syncSchedules(store, "octo/b", tasksOf([{ name: "y", prompt: "p", cron: "0 3 * * *" }]));
    expect(await store.schedules.dueRepos()).toEqual(["octo/a"]);
  });
});

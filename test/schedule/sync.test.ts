import { beforeEach, describe, expect, it } from "vitest";
import { defaultConfig } from "../../src/config/load.js";
import { dispatchDue } from "../../src/schedule/due.js";
import { recordFailure, resumeSchedule } from "../../src/schedule/lifecycle.js";
import { approveTask, proposeTask, rejectTask } from "../../src/schedule/proposals.js";
import { DISABLED_REASON, syncSchedules } from "../../src/schedule/sync.js";
import { specOf } from "../../src/schedule/due.js";
import type { Store } from "../../src/store/index.js";
import { memoryStore } from "../helpers/store.js";
import { HOUR, REPO, openTaskNames, t, tasksOf } from "./helpers.js";

let store: Store;
const T0 = t("2025-03-03T10:00:00Z");

beforeEach(async () => {
  store = await memoryStore();
});

const digest = { name: "digest", prompt: "Summarise.", every: "1h" };

describe("config sync", () => {
  it("creates a schedule per task, keeps run state when nothing that matters changed", async () => {
    const first = await syncSchedules(store, REPO, tasksOf([digest]), T0);
    expect(first.created).toEqual(["digest"]);
    await store.schedules.update((await store.schedules.get(REPO, "digest"))!.id, {
      runCount: 4,
      nextRunAt: T0 + HOUR,
    });
    // notify/report_to change: spec updated, schedule and run count kept.
    const second = await syncSchedules(
      store,
      REPO,
      tasksOf([{ ...digest, notify: "always", report_to: 9 }]),
      T0 + 1,
    );
    expect(second).toMatchObject({ created: [], restarted: [], updated: ["digest"] });
    expect(await store.schedules.get(REPO, "digest")).toMatchObject({
      runCount: 4,
      nextRunAt: T0 + HOUR,
      spec: { notify: "always", report_to: 9 },
    });
    // Nothing changed: no writes at all.
    const before = (await store.schedules.get(REPO, "digest"))!.updatedAt;
    await syncSchedules(
      store,
      REPO,
      tasksOf([{ ...digest, notify: "always", report_to: 9 }]),
      T0 + 2,
    );
    expect((await store.schedules.get(REPO, "digest"))!.updatedAt).toBe(before);
  });

  it("starts a task afresh when its prompt or trigger changes, lifting a failure pause", async () => {
    await syncSchedules(store, REPO, tasksOf([digest]), T0);
    const s = (await store.schedules.get(REPO, "digest"))!;
    await recordFailure(store, s, specOf(s)!, "boom", T0);
    await recordFailure(
      store,
      (await store.schedules.get(REPO, "digest"))!,
      specOf(s)!,
      "boom",
      T0,
    );
    expect((await store.schedules.get(REPO, "digest"))!.status).toBe("paused");
    // Same definition: stays paused.
    await syncSchedules(store, REPO, tasksOf([digest]), T0 + 1);
    expect((await store.schedules.get(REPO, "digest"))!.status).toBe("paused");
    const r = await syncSchedules(
      store,
      REPO,
      tasksOf([{ ...digest, prompt: "Summarise better." }]),
      T0 + 2,
    );
    expect(r.restarted).toEqual(["digest"]);
    expect(await store.schedules.get(REPO, "digest")).toMatchObject({
      status: "active",
      consecutiveFailures: 0,
      nextRunAt: T0 + 2,
    });
  });

  it("pauses a disabled task and resumes it when enabled again", async () => {
    await syncSchedules(store, REPO, tasksOf([{ ...digest, enabled: false }]), T0);
    expect(await store.schedules.get(REPO, "digest")).toMatchObject({
      status: "paused",
      statusReason: DISABLED_REASON,
    });
    expect((await dispatchDue(store, REPO, T0 + HOUR)).enqueued).toEqual([]);
    await syncSchedules(store, REPO, tasksOf([digest]), T0 + HOUR);
    expect(await store.schedules.get(REPO, "digest")).toMatchObject({
      status: "active",
      statusReason: null,
    });
    await syncSchedules(store, REPO, tasksOf([{ ...digest, enabled: false }]), T0 + 2 * HOUR);
    expect((await store.schedules.get(REPO, "digest"))!.status).toBe("paused");
  });

  it("deletes tasks removed from config and cancels their open tasks; keeps proposed ones", async () => {
    await syncSchedules(
      store,
      REPO,
      tasksOf([digest, { name: "other", prompt: "p", every: "2h" }]),
      T0,
    );
    await dispatchDue(store, REPO, T0);
    expect(await openTaskNames(store)).toEqual(["digest", "other"]);
    const proposed = await proposeTask(
      store,
      REPO,
      defaultConfig(),
      { name: "suggested", prompt: "p", every: "1d" },
      T0,
    );
    expect(proposed.ok).toBe(true);
    const r = await syncSchedules(store, REPO, tasksOf([digest]), T0 + 1);
    expect(r.removed).toEqual(["other"]);
    expect((await store.schedules.list(REPO)).map((s) => [s.name, s.status])).toEqual([
      ["digest", "active"],
      ["suggested", "proposed"],
    ]);
    expect(await openTaskNames(store)).toEqual(["digest"]);
  });

  it("never touches another repository's schedules", async () => {
    await syncSchedules(store, "octo/other", tasksOf([digest]), T0);
    await syncSchedules(store, REPO, [], T0);
    expect(await store.schedules.list("octo/other")).toHaveLength(1);
  });
});

describe("proposed tasks", () => {
  const config = defaultConfig();

  it("wait in status proposed, never run, and become active on approval", async () => {
    const p = await proposeTask(
      store,
      REPO,
      config,
      { name: "flaky", prompt: "Check flaky tests.", every: "1d" },
      T0,
    );
    expect(p).toMatchObject({
      ok: true,
      proposal: { kind: "task", target: "task:flaky", status: "proposed" },
      schedule: { status: "proposed", origin: "proposed" },
    });
    expect((await dispatchDue(store, REPO, T0 + 100 * HOUR)).enqueued).toEqual([]);
    expect(await store.schedules.dueRepos(T0 + 100 * HOUR)).toEqual([]);
    const a = await approveTask(store, REPO, "flaky", "alice", T0 + HOUR);
    expect(a).toMatchObject({ ok: true, schedule: { status: "active", nextRunAt: T0 + HOUR } });
    expect(await store.proposals.latest(REPO, "task:flaky")).toMatchObject({
      status: "approved",
      decidedBy: "alice",
    });
    expect((await dispatchDue(store, REPO, T0 + HOUR)).enqueued.map((e) => e.name)).toEqual([
      "flaky",
    ]);
  });

  it("are validated like config tasks (tools allow-list, min interval)", async () => {
    const bad = await proposeTask(
      store,
      REPO,
      config,
      { name: "x", prompt: "p", every: "1m", tools: ["write_file"] },
      T0,
    );
    expect(bad.ok).toBe(false);
    expect(bad.ok ? [] : bad.problems?.map((p) => p.path)).toEqual(["task.tools[0]"]);
    const fast = await proposeTask(
      store,
      REPO,
      config,
      { name: "x", prompt: "p", every: "1m" },
      T0,
    );
    expect(fast.ok ? [] : fast.problems?.map((p) => p.path)).toEqual(["task.every"]);
  });

  it("stay rejected: the same definition is not proposed again", async () => {
    const def = { name: "flaky", prompt: "Check flaky tests.", every: "1d" };
    await proposeTask(store, REPO, config, def, T0);
    expect(await rejectTask(store, REPO, "flaky", "bob", "no thanks", T0)).toBe(true);
    expect(await store.schedules.get(REPO, "flaky")).toBeUndefined();
    expect(await proposeTask(store, REPO, config, def, T0 + 1)).toMatchObject({ ok: false });
  });

  it("are taken over by a config task of the same name", async () => {
    await proposeTask(store, REPO, config, { name: "flaky", prompt: "p", every: "1d" }, T0);
    await syncSchedules(store, REPO, tasksOf([{ name: "flaky", prompt: "mine", every: "2h" }]), T0);
    expect(await store.schedules.get(REPO, "flaky")).toMatchObject({
      origin: "config",
      status: "active",
    });
    expect((await store.proposals.latest(REPO, "task:flaky"))?.status).toBe("expired");
  });
});

describe("resume", () => {
  it("makes a task paused by failures active again, but not a disabled one", async () => {
    await syncSchedules(
      store,
      REPO,
      tasksOf([digest, { name: "off", prompt: "p", every: "1h", enabled: false }]),
      T0,
    );
    const s = (await store.schedules.get(REPO, "digest"))!;
    await store.schedules.update(s.id, {
      status: "paused",
      statusReason: "failed twice in a row: x",
      consecutiveFailures: 2,
    });
    expect(await resumeSchedule(store, REPO, "digest", T0 + HOUR)).toMatchObject({
      ok: true,
      schedule: { status: "active", nextRunAt: T0 + HOUR, consecutiveFailures: 0 },
    });
    expect(await resumeSchedule(store, REPO, "off", T0)).toMatchObject({ ok: false });
    expect(await resumeSchedule(store, REPO, "nope", T0)).toMatchObject({ ok: false });
  });
});

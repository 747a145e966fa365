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
  it("creates a schedule per task, keeps run state when nothing that matters changed", () => {
    const first = syncSchedules(store, REPO, tasksOf([digest]), T0);
    expect(first.created).toEqual(["digest"]);
    store.schedules.update(store.schedules.get(REPO, "digest")!.id, {
      runCount: 4,
      nextRunAt: T0 + HOUR,
    });
    // notify/report_to change: spec updated, schedule and run count kept.
    const second = syncSchedules(
      store,
      REPO,
      tasksOf([{ ...digest, notify: "always", report_to: 9 }]),
      T0 + 1,
    );
    expect(second).toMatchObject({ created: [], restarted: [], updated: ["digest"] });
    expect(store.schedules.get(REPO, "digest")).toMatchObject({
      runCount: 4,
      nextRunAt: T0 + HOUR,
      spec: { notify: "always", report_to: 9 },
    });
    // Nothing changed: no writes at all.
    const before = store.schedules.get(REPO, "digest")!.updatedAt;
    syncSchedules(store, REPO, tasksOf([{ ...digest, notify: "always", report_to: 9 }]), T0 + 2);
    expect(store.schedules.get(REPO, "digest")!.updatedAt).toBe(before);
  });

  it("starts a task afresh when its prompt or trigger changes, lifting a failure pause", () => {
    syncSchedules(store, REPO, tasksOf([digest]), T0);
    const s = store.schedules.get(REPO, "digest")!;
    recordFailure(store, s, specOf(s)!, "boom", T0);
    recordFailure(store, store.schedules.get(REPO, "digest")!, specOf(s)!, "boom", T0);
    expect(store.schedules.get(REPO, "digest")!.status).toBe("paused");
    // Same definition: stays paused.
    syncSchedules(store, REPO, tasksOf([digest]), T0 + 1);
    expect(store.schedules.get(REPO, "digest")!.status).toBe("paused");
    const r = syncSchedules(
      store,
      REPO,
      tasksOf([{ ...digest, prompt: "Summarise better." }]),
      T0 + 2,
    );
    expect(r.restarted).toEqual(["digest"]);
    expect(store.schedules.get(REPO, "digest")).toMatchObject({
      status: "active",
      consecutiveFailures: 0,
      nextRunAt: T0 + 2,
    });
  });

  it("pauses a disabled task and resumes it when enabled again", () => {
    syncSchedules(store, REPO, tasksOf([{ ...digest, enabled: false }]), T0);
    expect(store.schedules.get(REPO, "digest")).toMatchObject({
      status: "paused",
      statusReason: DISABLED_REASON,
    });
    expect(dispatchDue(store, REPO, T0 + HOUR).enqueued).toEqual([]);
    syncSchedules(store, REPO, tasksOf([digest]), T0 + HOUR);
    expect(store.schedules.get(REPO, "digest")).toMatchObject({
      status: "active",
      statusReason: null,
    });
    syncSchedules(store, REPO, tasksOf([{ ...digest, enabled: false }]), T0 + 2 * HOUR);
    expect(store.schedules.get(REPO, "digest")!.status).toBe("paused");
  });

  it("deletes tasks removed from config and cancels their open tasks; keeps proposed ones", () => {
    syncSchedules(store, REPO, tasksOf([digest, { name: "other", prompt: "p", every: "2h" }]), T0);
    dispatchDue(store, REPO, T0);
    expect(openTaskNames(store)).toEqual(["digest", "other"]);
    const proposed = proposeTask(
      store,
      REPO,
      defaultConfig(),
      { name: "suggested", prompt: "p", every: "1d" },
      T0,
    );
    expect(proposed.ok).toBe(true);
    const r = syncSchedules(store, REPO, tasksOf([digest]), T0 + 1);
    expect(r.removed).toEqual(["other"]);
    expect(store.schedules.list(REPO).map((s) => [s.name, s.status])).toEqual([
      ["digest", "active"],
      ["suggested", "proposed"],
    ]);
    expect(openTaskNames(store)).toEqual(["digest"]);
  });

  it("never touches another repository's schedules", () => {
    syncSchedules(store, "octo/other", tasksOf([digest]), T0);
    syncSchedules(store, REPO, [], T0);
    expect(store.schedules.list("octo/other")).toHaveLength(1);
  });
});

describe("proposed tasks", () => {
  const config = defaultConfig();

  it("wait in status proposed, never run, and become active on approval", () => {
    const p = proposeTask(
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
    expect(dispatchDue(store, REPO, T0 + 100 * HOUR).enqueued).toEqual([]);
    expect(store.schedules.dueRepos(T0 + 100 * HOUR)).toEqual([]);
    const a = approveTask(store, REPO, "flaky", "alice", T0 + HOUR);
    expect(a).toMatchObject({ ok: true, schedule: { status: "active", nextRunAt: T0 + HOUR } });
    expect(store.proposals.latest(REPO, "task:flaky")).toMatchObject({
      status: "approved",
      decidedBy: "alice",
    });
    expect(dispatchDue(store, REPO, T0 + HOUR).enqueued.map((e) => e.name)).toEqual(["flaky"]);
  });

  it("are validated like config tasks (tools allow-list, min interval)", () => {
    const bad = proposeTask(
      store,
      REPO,
      config,
      { name: "x", prompt: "p", every: "1m", tools: ["write_file"] },
      T0,
    );
    expect(bad.ok).toBe(false);
    expect(bad.ok ? [] : bad.problems?.map((p) => p.path)).toEqual(["task.tools[0]"]);
    const fast = proposeTask(store, REPO, config, { name: "x", prompt: "p", every: "1m" }, T0);
    expect(fast.ok ? [] : fast.problems?.map((p) => p.path)).toEqual(["task.every"]);
  });

  it("stay rejected: the same definition is not proposed again", () => {
    const def = { name: "flaky", prompt: "Check flaky tests.", every: "1d" };
    proposeTask(store, REPO, config, def, T0);
    expect(rejectTask(store, REPO, "flaky", "bob", "no thanks", T0)).toBe(true);
    expect(store.schedules.get(REPO, "flaky")).toBeUndefined();
    expect(proposeTask(store, REPO, config, def, T0 + 1)).toMatchObject({ ok: false });
  });

  it("are taken over by a config task of the same name", () => {
    proposeTask(store, REPO, config, { name: "flaky", prompt: "p", every: "1d" }, T0);
    syncSchedules(store, REPO, tasksOf([{ name: "flaky", prompt: "mine", every: "2h" }]), T0);
    expect(store.schedules.get(REPO, "flaky")).toMatchObject({
      origin: "config",
      status: "active",
    });
    expect(store.proposals.latest(REPO, "task:flaky")?.status).toBe("expired");
  });
});

describe("resume", () => {
  it("makes a task paused by failures active again, but not a disabled one", () => {
    syncSchedules(
      store,
      REPO,
      tasksOf([digest, { name: "off", prompt: "p", every: "1h", enabled: false }]),
      T0,
    );
    const s = store.schedules.get(REPO, "digest")!;
    store.schedules.update(s.id, {
      status: "paused",
      statusReason: "failed twice in a row: x",
      consecutiveFailures: 2,
    });
    expect(resumeSchedule(store, REPO, "digest", T0 + HOUR)).toMatchObject({
      ok: true,
      schedule: { status: "active", nextRunAt: T0 + HOUR, consecutiveFailures: 0 },
    });
    expect(resumeSchedule(store, REPO, "off", T0)).toMatchObject({ ok: false });
    expect(resumeSchedule(store, REPO, "nope", T0)).toMatchObject({ ok: false });
  });
});

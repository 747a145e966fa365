import type { TaskConfig } from "../config/schema.js";
import type { Store, TxStore } from "../store/index.js";
import type { Schedule, ScheduleStatus } from "../store/schedules.js";
import { specOf } from "./due.js";
import { DISABLED_REASON, MANUAL_PAUSE_PREFIX, initialState } from "./sync.js";

export { MANUAL_PAUSE_PREFIX };
import { nextRunAfterDispatch, triggerOf } from "./triggers.js";

/**
 * A schedule's life:
 *   proposed --/bg approve--> active --(max_runs reached | once ran)--> done
 *   active --(failed twice in a row)--> paused (recurring) | failed (once)
 *   active <--enabled: false / true--> paused
 *   paused|failed --(definition edited | /bg resume | a successful /bg run)--> active
 */
export const FAILURES_BEFORE_PAUSE = 2;
/** How long after a first failure the run is tried again. */
export const RETRY_BACKOFF_MS = 5 * 60_000;
export const FAILED_PREFIX = "failed twice in a row: ";

const isFailurePause = (s: Schedule): boolean =>
  (s.status === "paused" || s.status === "failed") &&
  (s.statusReason ?? "").startsWith(FAILED_PREFIX);

/**
 * Records a successful run. Scheduled runs count toward max_runs (run_count counts successful
 * scheduled runs); a `once` task or one that reached max_runs is done. A manual run (`/bg run`)
 * does not count, and when the task was stopped by failures it lifts that stop.
 */
export async function recordSuccess(
  store: Store,
  s: Schedule,
  spec: TaskConfig,
  r: { resultHash: string; manual: boolean },
  now = Date.now(),
): Promise<{ status: ScheduleStatus; runCount: number }> {
  const trigger = triggerOf(spec);
  let status = s.status;
  let statusReason = s.statusReason;
  let nextRunAt = s.nextRunAt;
  let runCount = s.runCount;
  if (!r.manual) runCount += 1;
  if (r.manual && isFailurePause(s)) {
    // A person ran it by hand and it worked: the stop caused by failures is lifted.
    if (trigger.kind === "once") {
      status = "done";
      statusReason = "ran once";
      nextRunAt = null;
    } else {
      status = "active";
      statusReason = null;
      nextRunAt = nextRunAfterDispatch(trigger, now, now);
    }
  } else if (!r.manual && status === "active") {
    if (trigger.kind === "once") {
      status = "done";
      statusReason = "ran once";
      nextRunAt = null;
    } else if (s.maxRuns !== null && runCount >= s.maxRuns) {
      status = "done";
      statusReason = `reached max_runs (${s.maxRuns})`;
      nextRunAt = null;
    }
  }
  await store.schedules.update(
    s.id,
    {
      status,
      statusReason,
      nextRunAt,
      runCount,
      lastRunAt: now,
      lastResultHash: r.resultHash,
      consecutiveFailures: 0,
    },
    now,
  );
  return { status, runCount };
}

export type FailureDecision =
  | { action: "retry"; at: number; failures: number }
  | { action: "stopped"; status: "paused" | "failed"; failures: number; reason: string };

/**
 * Records a failed scheduled run: the first failure is retried once after RETRY_BACKOFF_MS;
 * the second in a row pauses a recurring task (a `once` task is marked failed) until someone
 * acts. Manual runs are not counted (the person who asked sees the failure).
 */
export async function recordFailure(
  store: Store,
  s: Schedule,
  spec: TaskConfig,
  error: string,
  now = Date.now(),
): Promise<FailureDecision> {
  const failures = s.consecutiveFailures + 1;
  if (failures < FAILURES_BEFORE_PAUSE) {
    await store.schedules.update(s.id, { consecutiveFailures: failures }, now);
    return { action: "retry", at: now + RETRY_BACKOFF_MS, failures };
  }
  const status = triggerOf(spec).kind === "once" ? "failed" : "paused";
  const reason = `${FAILED_PREFIX}${error}`.slice(0, 1_000);
  await store.schedules.update(
    s.id,
    { consecutiveFailures: failures, status, statusReason: reason },
    now,
  );
  return { action: "stopped", status, failures, reason };
}

export const isManualPause = (s: Pick<Schedule, "status" | "statusReason">): boolean =>
  s.status === "paused" && (s.statusReason ?? "").startsWith(MANUAL_PAUSE_PREFIX);

/**
 * `/bg pause <task>` and the dashboard's pause: an active task stops being due until someone
 * resumes it (`/bg resume <task>`, the dashboard). A queued run of it that has not started is
 * cancelled; a running one finishes. Proposed, done and failed tasks have nothing to pause.
 */
export async function pauseSchedule(
  store: TxStore,
  repo: string,
  name: string,
  by: string,
  how: string,
  now = Date.now(),
): Promise<{ ok: true; schedule: Schedule; changed: boolean } | { ok: false; why: string }> {
  const s = await store.schedules.get(repo, name);
  if (!s) return { ok: false, why: `there is no task named ${name}` };
  if (s.status === "paused") return { ok: true, schedule: s, changed: false };
  if (s.status === "proposed")
    return { ok: false, why: `${name} is proposed: approve or reject it instead` };
  if (s.status !== "active")
    return { ok: false, why: `${name} is ${s.status}: it has no schedule left to pause` };
  await store.tx(async (t) => {
    await t.schedules.update(
      s.id,
      { status: "paused", statusReason: `${MANUAL_PAUSE_PREFIX}${by} (${how})`.slice(0, 300) },
      now,
    );
    await t.tasks.cancelPending(
      { repo, type: "prompt_task", source: `schedule:${s.name}` },
      `the task was paused by ${by}`,
      now,
    );
  });
  return { ok: true, schedule: (await store.schedules.byId(s.id))!, changed: true };
}

/**
 * `/bg resume <task>`: makes a paused or failed task active again from now (a disabled task
 * stays paused: that is its config's say). Returns the schedule, or why not.
 */
export async function resumeSchedule(
  store: TxStore,
  repo: string,
  name: string,
  now = Date.now(),
): Promise<{ ok: true; schedule: Schedule } | { ok: false; why: string }> {
  const s = await store.schedules.get(repo, name);
  if (!s) return { ok: false, why: `there is no task named ${name}` };
  const spec = specOf(s);
  if (!spec)
    return { ok: false, why: `${name} no longer validates: edit it in .github/bg-agent.yml` };
  if (s.status === "proposed") return { ok: false, why: `${name} is proposed: approve it first` };
  if (s.statusReason === DISABLED_REASON) {
    return { ok: false, why: `${name} is disabled in .github/bg-agent.yml (enabled: false)` };
  }
  if (s.status === "active") return { ok: true, schedule: s };
  const init = initialState(spec, now);
  await store.schedules.update(
    s.id,
    { ...init, consecutiveFailures: 0, ...(s.status === "done" ? { runCount: 0 } : {}) },
    now,
  );
  return { ok: true, schedule: (await store.schedules.byId(s.id))! };
}

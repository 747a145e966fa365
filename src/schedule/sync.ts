import type { TaskConfig } from "../config/schema.js";
import type { Store, TxStore } from "../store/index.js";
import type { Schedule, ScheduleStatus } from "../store/schedules.js";
import { hashOf, stableStringify } from "../util/hash.js";
import { firstRunAt, isReactive, triggerOf } from "./triggers.js";

export const DISABLED_REASON = "disabled in config (enabled: false)";
export const NO_SLOT_REASON = "the cron expression has no future slot";
/** The reason's prefix when a person paused a task (see lifecycle.ts pauseSchedule). */
export const MANUAL_PAUSE_PREFIX = "paused by ";

/** The task source of a schedule's prompt_task tasks. */
export const scheduleSource = (name: string): string => `schedule:${name}`;

/**
 * What a task does and when: its prompt, trigger and max_runs. A change here starts the task
 * afresh (new first run, run count and failures reset). notify, report_to, tools, timeout and
 * enabled are not part of it: changing them keeps the schedule where it is.
 */
export const specHashOf = (t: TaskConfig): string =>
  hashOf({
    prompt: t.prompt,
    every: t.every,
    cron: t.cron,
    timezone: t.timezone,
    idle: t.idle,
    once: t.once,
    max_runs: t.max_runs,
    // Absent keys hash as before, so tasks declared before `on:`/`after:` keep their state.
    ...(t.on !== undefined ? { on: t.on, debounce: t.debounce } : {}),
    ...(t.after !== undefined ? { after: t.after } : {}),
  });

/** Status, reason and first run for a (new or changed) task. */
export function initialState(
  t: TaskConfig,
  now: number,
): { status: ScheduleStatus; statusReason: string | null; nextRunAt: number | null } {
  const trigger = triggerOf(t);
  const next = firstRunAt(trigger, now);
  if (!t.enabled) return { status: "paused", statusReason: DISABLED_REASON, nextRunAt: next };
  // `on:` and `after:` tasks wait for an event or another task: active, with no clock slot.
  if (next === null && !isReactive(trigger))
    return { status: "failed", statusReason: NO_SLOT_REASON, nextRunAt: null };
  return { status: "active", statusReason: null, nextRunAt: next };
}

export interface SyncSummary {
  created: string[];
  /** The prompt, trigger or max_runs changed: started afresh. */
  restarted: string[];
  /** notify, report_to, tools or timeout changed. */
  updated: string[];
  paused: string[];
  resumed: string[];
  removed: string[];
}

/**
 * Mirrors a repository's config `tasks:` into store.schedules, in one transaction:
 * - a new task is inserted (status active, or paused when `enabled: false`);
 * - a task whose prompt/trigger/max_runs changed (spec hash) starts afresh, which also lifts a
 *   pause caused by failures (editing the task is how you fix it);
 * - `enabled: false` pauses a task, `enabled: true` resumes a task paused that way only;
 * - a task declared in config with the name of a task bg-agent proposed takes it over (the
 *   open proposal expires);
 * - config tasks no longer declared are deleted and their open tasks cancelled. Tasks bg-agent
 *   proposed are not in config and are kept (status `proposed` until approved).
 * Cheap when nothing changed: one read per task, no writes.
 */
export async function syncSchedules(
  store: Store,
  repo: string,
  tasks: readonly TaskConfig[],
  now = Date.now(),
): Promise<SyncSummary> {
  const summary: SyncSummary = {
    created: [],
    restarted: [],
    updated: [],
    paused: [],
    resumed: [],
    removed: [],
  };
  await store.tx(async (txs) => {
    const declared = new Set<string>();
    for (const t of tasks) {
      declared.add(t.name);
      await syncOne(txs, repo, t, now, summary);
    }
    for (const s of await txs.schedules.list(repo)) {
      if (s.origin !== "config" || declared.has(s.name)) continue;
      await txs.schedules.delete(s.id);
      await txs.tasks.cancel(
        { repo, type: "prompt_task", source: scheduleSource(s.name) },
        "the task was removed from .github/bg-agent.yml",
        now,
      );
      summary.removed.push(s.name);
    }
  });
  return summary;
}

async function syncOne(
  store: TxStore,
  repo: string,
  t: TaskConfig,
  now: number,
  summary: SyncSummary,
): Promise<void> {
  const spec = t as unknown as Record<string, unknown>;
  const specHash = specHashOf(t);
  const maxRuns = t.max_runs ?? null;
  const existing = await store.schedules.get(repo, t.name);
  if (!existing) {
    await store.schedules.create(
      { repo, name: t.name, spec, specHash, origin: "config", maxRuns, ...initialState(t, now) },
      now,
    );
    summary.created.push(t.name);
    return;
  }
  if (existing.origin !== "config" || existing.specHash !== specHash) {
    if (existing.origin !== "config") await expireProposal(store, repo, existing, now);
    const init = initialState(t, now);
    // A person's pause (`/bg pause <task>`) outlives an edit: only `/bg resume <task>` lifts it.
    const keepPause =
      init.status === "active" &&
      existing.status === "paused" &&
      (existing.statusReason ?? "").startsWith(MANUAL_PAUSE_PREFIX);
    await store.schedules.update(
      existing.id,
      {
        spec,
        specHash,
        origin: "config",
        maxRuns,
        runCount: 0,
        consecutiveFailures: 0,
        ...init,
        ...(keepPause ? { status: "paused", statusReason: existing.statusReason } : {}),
      },
      now,
    );
    summary.restarted.push(t.name);
    return;
  }
  if (stableStringify(existing.spec) !== stableStringify(spec)) {
    await store.schedules.update(existing.id, { spec }, now);
    summary.updated.push(t.name);
  }
  if (!t.enabled && existing.status === "active") {
    await store.schedules.update(
      existing.id,
      { status: "paused", statusReason: DISABLED_REASON },
      now,
    );
    summary.paused.push(t.name);
  } else if (
    t.enabled &&
    existing.status === "paused" &&
    existing.statusReason === DISABLED_REASON
  ) {
    await store.schedules.update(
      existing.id,
      { consecutiveFailures: 0, ...initialState(t, now) },
      now,
    );
    summary.resumed.push(t.name);
  }
}

async function expireProposal(
  store: TxStore,
  repo: string,
  s: Schedule,
  now: number,
): Promise<void> {
  const p = await store.proposals.latest(repo, `task:${s.name}`, "task");
  if (p?.status === "proposed") {
    await store.proposals.decide(
      p.id,
      "expired",
      "config",
      "declared in .github/bg-agent.yml",
      now,
    );
  }
}

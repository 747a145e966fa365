import type { TaskConfig } from "../config/schema.js";
import { taskSchema } from "../config/schema.js";
import type { Store } from "../store/index.js";
import type { Schedule } from "../store/schedules.js";
import { scheduleSource } from "./sync.js";
import { idleDecision, nextRunAfterDispatch, triggerOf } from "./triggers.js";

/** A stored schedule's declaration, validated again (null: it no longer validates). */
export function specOf(s: Schedule): TaskConfig | null {
  const r = taskSchema.safeParse(s.spec);
  return r.success ? r.data : null;
}

export interface DispatchResult {
  /** Schedules turned into a prompt_task (or already holding an open one). */
  enqueued: { name: string; taskId: number; created: boolean }[];
  /** Idle schedules checked and not due yet, with when they are checked again. */
  waiting: { name: string; why: string; recheckAt: number }[];
  /** Schedules whose stored declaration no longer validates: marked failed. */
  broken: { name: string; why: string }[];
}

/**
 * Turns a repository's due schedules into prompt_task tasks, at most one open task per
 * schedule, and moves each schedule to its next slot. Selection goes through the
 * (status, next_run_at) index: only active rows whose next_run_at has passed are read.
 *
 * A schedule whose slot passed long ago (the app was down through several cron slots) is due
 * once: it gets one task now and its next slot is the first one after now, so missed slots are
 * never replayed one by one. Idle schedules are checked against the idle rule (triggers.ts);
 * when not due yet they are moved to the earliest time they could be.
 *
 * Dry-run: tasks are queued (a dry-run pass releases them untouched) but no schedule moves.
 */
export async function dispatchDue(
  store: Store,
  repo: string,
  now = Date.now(),
  opts: { dryRun?: boolean; limit?: number } = {},
): Promise<DispatchResult> {
  const result: DispatchResult = { enqueued: [], waiting: [], broken: [] };
  const due = await store.schedules.due(now, opts.limit ?? 200, repo);
  if (!due.length) return result;
  const lastHumanAt = (await store.activity.get(repo)).lastHumanAt;
  await store.tx(async (t) => {
    for (const s of due) {
      const spec = specOf(s);
      if (!spec) {
        const why =
          "its stored definition no longer validates; edit the task in .github/bg-agent.yml";
        if (!opts.dryRun)
          await t.schedules.update(s.id, { status: "failed", statusReason: why }, now);
        result.broken.push({ name: s.name, why });
        continue;
      }
      const trigger = triggerOf(spec);
      if (trigger.kind === "idle") {
        const d = idleDecision(trigger, { lastHumanAt, lastRunAt: s.lastRunAt }, now);
        if (!d.due) {
          if (!opts.dryRun) await t.schedules.update(s.id, { nextRunAt: d.recheckAt }, now);
          result.waiting.push({ name: s.name, why: d.why, recheckAt: d.recheckAt });
          continue;
        }
      }
      const source = scheduleSource(s.name);
      const open = await t.tasks.open(repo, "prompt_task", source);
      if (open) {
        result.enqueued.push({ name: s.name, taskId: open.id, created: false });
      } else {
        const { task } = await t.tasks.enqueue(
          { repo, type: "prompt_task", source, payload: { name: s.name }, runAt: now },
          now,
        );
        result.enqueued.push({ name: s.name, taskId: task.id, created: true });
      }
      if (!opts.dryRun) {
        await t.schedules.update(
          s.id,
          { nextRunAt: nextRunAfterDispatch(trigger, s.nextRunAt, now) },
          now,
        );
      }
    }
  });
  return result;
}

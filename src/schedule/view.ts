import type { Store } from "../store/index.js";
import type { Run } from "../core/domain.js";
import type { Schedule, ScheduleStatus } from "../store/schedules.js";
import { specOf } from "./due.js";
import { DISABLED_REASON, MANUAL_PAUSE_PREFIX } from "./sync.js";
import { describeTrigger, triggerOf } from "./triggers.js";

/** Why a paused task is paused, in one word (the reason itself says more). */
export type PauseKind = "manual" | "disabled" | "failures" | "other";

/** One prompt task as `/bg tasks`, the admin API and the dashboard show it. */
export interface ScheduleView {
  id: number;
  repo: string;
  name: string;
  status: ScheduleStatus;
  /** Why it is in that status (paused: by whom, disabled in config, failed twice...). */
  reason: string | null;
  pauseKind: PauseKind | null;
  origin: Schedule["origin"];
  /** `every 1d`, `cron 0 3 * * * (UTC)`... or null when the stored definition no longer validates. */
  trigger: string | null;
  nextRunAt: number | null;
  lastRunAt: number | null;
  runCount: number;
  maxRuns: number | null;
  consecutiveFailures: number;
  /** The newest run of the task (any outcome), with the link to what it posted. */
  lastRun: {
    id: number;
    status: Run["status"];
    url: string | null;
    finishedAt: number | null;
  } | null;
}

export function pauseKindOf(s: Pick<Schedule, "status" | "statusReason">): PauseKind | null {
  if (s.status !== "paused") return null;
  const r = s.statusReason ?? "";
  if (r.startsWith(MANUAL_PAUSE_PREFIX)) return "manual";
  if (r === DISABLED_REASON) return "disabled";
  if (r.startsWith("failed")) return "failures";
  return "other";
}

/** The task's run ref in the runs table. */
export const taskRef = (name: string): string => `task:${name}`;

export async function scheduleView(store: Store, s: Schedule): Promise<ScheduleView> {
  const spec = specOf(s);
  const last = await store.runs.latestFor(s.repo, taskRef(s.name));
  return {
    id: s.id,
    repo: s.repo,
    name: s.name,
    status: s.status,
    reason: s.statusReason,
    pauseKind: pauseKindOf(s),
    origin: s.origin,
    trigger: spec ? describeTrigger(triggerOf(spec)) : null,
    nextRunAt: s.status === "active" ? s.nextRunAt : null,
    lastRunAt: s.lastRunAt,
    runCount: s.runCount,
    maxRuns: s.maxRuns,
    consecutiveFailures: s.consecutiveFailures,
    lastRun: last
      ? { id: last.id, status: last.status, url: last.url, finishedAt: last.finishedAt }
      : null,
  };
}

/** Every schedule (of a repository, of a status), as views. */
export async function listScheduleViews(
  store: Store,
  filter: { repo?: string; status?: ScheduleStatus } = {},
): Promise<ScheduleView[]> {
  const list = (await store.schedules.list(filter.repo)).filter(
    (s) => !filter.status || s.status === filter.status,
  );
  return Promise.all(list.map((s) => scheduleView(store, s)));
}

/**
 * Waiting for people: the part of the pause rules (src/worker/pause.ts) that processors, commands
 * and the scheduler share with the worker.
 */
import { formatDuration } from "../util/duration.js";
import type { ProcessorContext } from "./worker-contract.js";

/**
 * Tasks a person asked for explicitly (e.g. `/bg run <task>`) are queued at this priority or
 * above. They go ahead while people are active (asking is activity, and they are waiting for the
 * answer), but not through a manual pause or an invalid config.
 */
export const REQUESTED_PRIORITY = 90;

export interface PauseState {
  /** config: the file is invalid; manual: /bg pause or the admin API; activity: people are active. */
  kind: "config" | "manual" | "activity";
  reason: string;
}

/**
 * Thrown before an LLM call (an analysis batch, a fix round, a prompt-task turn) when the
 * repository must wait now: people became active, or a manual pause arrived, after the work
 * started. Not a failure: the work goes back as `retry` at `retryAt`, no attempt spent.
 */
export class PausedError extends Error {
  constructor(
    readonly state: PauseState,
    readonly retryAt: number,
  ) {
    super(`stopped before the next LLM call: ${state.reason}`);
    this.name = "PausedError";
  }
}

const hhmm = (t: number): string => new Date(t).toISOString().slice(11, 16);

/**
 * Who did what when, for people: `@alice commented on #12, 2m ago — LLM work waits until 14:32
 * UTC` (the "what" is known to runners, which read it from GitHub; the app's store keeps who and
 * when). Null when no human activity is known.
 */
export async function lastHumanActivity(
  ctx: Pick<ProcessorContext, "store" | "repoName" | "config" | "env">,
  now = Date.now(),
): Promise<string | null> {
  const a = await ctx.store.activity.get(ctx.repoName);
  if (a.lastHumanAt === null) return null;
  const seen = ctx.env.activitySeen?.(ctx.repoName);
  const what = seen && seen.at === a.lastHumanAt ? ` ${seen.what}` : "";
  const who = a.lastHumanLogin ? `@${a.lastHumanLogin}${what}` : `someone${what}`;
  const line = `${who}, ${formatDuration(Math.max(0, now - a.lastHumanAt))} ago`;
  const windowMs = ctx.config.activity.pause_when_active_minutes * 60_000;
  const until = a.lastHumanAt + windowMs;
  return windowMs > 0 && until > now ? `${line} — LLM work waits until ${hhmm(until)} UTC` : line;
}

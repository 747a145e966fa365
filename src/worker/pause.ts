import { formatDuration } from "../util/duration.js";
import type { Processor, ProcessorContext } from "./types.js";

/**
 * Tasks a person asked for explicitly (e.g. `/bg run <task>`) are queued at this priority or
 * above. They go ahead while people are active (asking is activity, and they are waiting for the
 * answer), but not through a manual pause or an invalid config.
 */
export const REQUESTED_PRIORITY = 90;

/** What pauseState looks at of a processor. */
export type PauseSubject = Pick<Processor, "type" | "usesLlm">;

export interface PauseState {
  /** config: the file is invalid; manual: /bg pause or the admin API; activity: people are active. */
  kind: "config" | "manual" | "activity";
  reason: string;
}

/**
 * Why a processor must wait for this repository now, or null. Commands never wait; an invalid
 * config stops new work until it is fixed; a manual pause stops everything else until it is
 * resumed or expires (an expired pause ends by itself here); human activity within
 * `activity.pause_when_active_minutes` defers LLM work (and automerge if configured).
 */
export function pauseState(
  ctx: ProcessorContext,
  p: PauseSubject,
  now = Date.now(),
): PauseState | null {
  if (p.type === "command") return null;
  if (!ctx.configResult.ok) {
    return {
      kind: "config",
      reason: "the config file is invalid (see the bg-agent/config check run)",
    };
  }
  const manual = ctx.store.activity.manualPause(ctx.repoName, now);
  if (manual) {
    const until = manual.pausedUntil ? ` until ${new Date(manual.pausedUntil).toISOString()}` : "";
    return { kind: "manual", reason: `paused by ${manual.pausedBy ?? "an admin"}${until}` };
  }
  const windowMs = ctx.config.activity.pause_when_active_minutes * 60_000;
  const subject = p.usesLlm || (p.type === "automerge" && ctx.config.automerge.pause_when_active);
  if (subject && windowMs > 0 && ctx.store.activity.isActive(ctx.repoName, windowMs, now)) {
    return {
      kind: "activity",
      reason: `people are active (${lastHumanActivity(ctx, now) ?? "recent activity"})`,
    };
  }
  return null;
}

const hhmm = (t: number): string => new Date(t).toISOString().slice(11, 16);

/**
 * Who did what when, for people: `@alice commented on #12, 2m ago — LLM work waits until 14:32
 * UTC` (the "what" is known to runners, which read it from GitHub; the app's store keeps who and
 * when). Null when no human activity is known.
 */
export function lastHumanActivity(
  ctx: Pick<ProcessorContext, "store" | "repoName" | "config" | "env">,
  now = Date.now(),
): string | null {
  const a = ctx.store.activity.get(ctx.repoName);
  if (a.lastHumanAt === null) return null;
  const seen = ctx.env.activitySeen?.(ctx.repoName);
  const what = seen && seen.at === a.lastHumanAt ? ` ${seen.what}` : "";
  const who = a.lastHumanLogin ? `@${a.lastHumanLogin}${what}` : `someone${what}`;
  const line = `${who}, ${formatDuration(Math.max(0, now - a.lastHumanAt))} ago`;
  const windowMs = ctx.config.activity.pause_when_active_minutes * 60_000;
  const until = a.lastHumanAt + windowMs;
  return windowMs > 0 && until > now ? `${line} — LLM work waits until ${hhmm(until)} UTC` : line;
}

/** When deferred work may try again after a pause: the end of the activity window or of a timed pause. */
export function pauseRetryAt(ctx: ProcessorContext, s: PauseState, now = Date.now()): number {
  if (s.kind === "activity") {
    const last = ctx.store.activity.get(ctx.repoName).lastHumanAt ?? now;
    return Math.max(now + 1000, last + ctx.config.activity.pause_when_active_minutes * 60_000);
  }
  if (s.kind === "manual") {
    const until = ctx.store.activity.manualPause(ctx.repoName, now)?.pausedUntil ?? null;
    if (until !== null) return Math.max(now + 1000, until);
  }
  return now + 10 * 60_000;
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

/**
 * The check before every LLM call: refreshes what is known of human activity (a runner re-reads
 * GitHub, at most every `env.refreshActivity`'s interval; the app's store is fed by webhooks),
 * then throws PausedError when the repository must wait. Work a person asked for (priority >=
 * REQUESTED_PRIORITY) goes on while people are active, as at claim time.
 */
export async function checkBeforeLlm(
  ctx: ProcessorContext,
  p: PauseSubject,
  minPriority: number,
  now: () => number = Date.now,
): Promise<void> {
  await ctx.env.refreshActivity?.(ctx.repoName);
  const s = pauseState(ctx, p, now());
  if (!s) return;
  if (s.kind === "activity" && minPriority >= REQUESTED_PRIORITY) return;
  throw new PausedError(s, pauseRetryAt(ctx, s, now()));
}

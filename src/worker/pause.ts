import type { PauseState } from "../core/paused.js";
import { PausedError, REQUESTED_PRIORITY, lastHumanActivity } from "../core/paused.js";
import { kindOf } from "../core/task-kinds.js";
import type { Processor, ProcessorContext } from "../core/worker-contract.js";

/** What pauseState looks at of a processor. */
export type PauseSubject = Pick<Processor, "type" | "usesLlm">;

/**
 * Why a processor must wait for this repository now, or null. Commands never wait; an invalid
 * config stops new work until it is fixed; a manual pause stops everything else until it is
 * resumed or expires (an expired pause ends by itself here); human activity within
 * `activity.pause_when_active_minutes` defers LLM work (and automerge if configured).
 */
export async function pauseState(
  ctx: ProcessorContext,
  p: PauseSubject,
  now = Date.now(),
): Promise<PauseState | null> {
  if (kindOf(p.type).neverWaits) return null;
  if (!ctx.configResult.ok) {
    return {
      kind: "config",
      reason: "the config file is invalid (see the bg-agent/config check run)",
    };
  }
  const manual = await ctx.store.activity.manualPause(ctx.repoName, now);
  if (manual) {
    const until = manual.pausedUntil ? ` until ${new Date(manual.pausedUntil).toISOString()}` : "";
    return { kind: "manual", reason: `paused by ${manual.pausedBy ?? "an admin"}${until}` };
  }
  const windowMs = ctx.config.activity.pause_when_active_minutes * 60_000;
  const subject = p.usesLlm || (p.type === "automerge" && ctx.config.automerge.pause_when_active);
  if (subject && windowMs > 0 && (await ctx.store.activity.isActive(ctx.repoName, windowMs, now))) {
    return {
      kind: "activity",
      reason: `people are active (${(await lastHumanActivity(ctx, now)) ?? "recent activity"})`,
    };
  }
  return null;
}

/** When deferred work may try again after a pause: the end of the activity window or of a timed pause. */
export async function pauseRetryAt(
  ctx: ProcessorContext,
  s: PauseState,
  now = Date.now(),
): Promise<number> {
  if (s.kind === "activity") {
    const last = (await ctx.store.activity.get(ctx.repoName)).lastHumanAt ?? now;
    return Math.max(now + 1000, last + ctx.config.activity.pause_when_active_minutes * 60_000);
  }
  if (s.kind === "manual") {
    const until = (await ctx.store.activity.manualPause(ctx.repoName, now))?.pausedUntil ?? null;
    if (until !== null) return Math.max(now + 1000, until);
  }
  return now + 10 * 60_000;
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
  const s = await pauseState(ctx, p, now());
  if (!s) return;
  if (s.kind === "activity" && minPriority >= REQUESTED_PRIORITY) return;
  throw new PausedError(s, await pauseRetryAt(ctx, s, now()));
}

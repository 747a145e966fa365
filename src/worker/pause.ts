import { formatDuration } from "../util/duration.js";
import type { Processor, ProcessorContext } from "./types.js";

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
 * Why a processor must wait for this repository now, or null. Commands never wait; an invalid
 * config stops new work until it is fixed; a manual pause stops everything else until it is
 * resumed or expires (an expired pause ends by itself here); human activity within
 * `activity.pause_when_active_minutes` defers LLM work (and automerge if configured).
 */
export function pauseState(
  ctx: ProcessorContext,
  p: Processor,
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
    const a = ctx.store.activity.get(ctx.repoName);
    return {
      kind: "activity",
      reason: `people are active (last activity ${formatDuration(now - (a.lastHumanAt ?? now))} ago)`,
    };
  }
  return null;
}

/** The reason of `pauseState`, or null. */
export function pauseReason(ctx: ProcessorContext, p: Processor, now = Date.now()): string | null {
  return pauseState(ctx, p, now)?.reason ?? null;
}

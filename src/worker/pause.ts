import { formatDuration } from "../util/duration.js";
import type { Processor, ProcessorContext } from "./types.js";

/**
 * Why a processor must wait for this repository now, or null. Commands never wait; a manual
 * pause stops everything else; human activity defers LLM work (and automerge if configured);
 * an invalid config stops new work until it is fixed.
 */
export function pauseReason(ctx: ProcessorContext, p: Processor, now = Date.now()): string | null {
  if (p.type === "command") return null;
  if (!ctx.configResult.ok) return "the config file is invalid (see the bg-agent/config check run)";
  const manual = ctx.store.activity.manualPause(ctx.repoName, now);
  if (manual) {
    const until = manual.pausedUntil ? ` until ${new Date(manual.pausedUntil).toISOString()}` : "";
    return `paused by ${manual.pausedBy ?? "an admin"}${until}`;
  }
  const windowMs = ctx.config.activity.pause_when_active_minutes * 60_000;
  const subject = p.usesLlm || (p.type === "automerge" && ctx.config.automerge.pause_when_active);
  if (subject && windowMs > 0 && ctx.store.activity.isActive(ctx.repoName, windowMs, now)) {
    const a = ctx.store.activity.get(ctx.repoName);
    return `people are active (last activity ${formatDuration(now - (a.lastHumanAt ?? now))} ago)`;
  }
  return null;
}

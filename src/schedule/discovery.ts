import type { DiscoveryConfig } from "../config/schema.js";
import { formatDuration, parseDuration } from "../util/duration.js";
import { idleDecision } from "./triggers.js";

/** The task source of a repository's discovery task (one open at a time). */
export const DISCOVERY_SOURCE = "discovery";

/** Discovery's timings in milliseconds (the schema guarantees each parses). */
export interface DiscoveryTiming {
  everyMs: number;
  quietMs: number;
  presenceMs: number;
  rejectCooldownMs: number;
}

export function discoveryTiming(d: DiscoveryConfig): DiscoveryTiming {
  const ms = (s: string, fallback: number): number => parseDuration(s) ?? fallback;
  return {
    everyMs: ms(d.every, 30 * 60_000),
    quietMs: ms(d.quiet, 10 * 60_000),
    presenceMs: ms(d.presence, 2 * 3_600_000),
    rejectCooldownMs: ms(d.reject_cooldown, 24 * 3_600_000),
  };
}

export type DiscoveryDecision =
  | { due: true }
  /** `recheckAt` null: nobody has been present within `presence`; only new activity changes that. */
  | { due: false; recheckAt: number | null; why: string };

/**
 * When discovery may run: the idle rule of quiet-triggered tasks (src/schedule/triggers.ts,
 * `idleDecision`) with `quiet` as its quiet period and `every` as its cooldown — a person acted
 * after the last discovery run, nobody has acted for `quiet`, and the last run was `every` ago or
 * more — plus presence: that person acted within `presence` (otherwise nobody is there to approve
 * what it proposes, and the proposal would go stale unseen). So discovery runs at most once per
 * quiet spell, at most every `every`, never while people are at work and never to an empty room.
 */
export function discoveryDecision(
  t: Pick<DiscoveryTiming, "everyMs" | "quietMs" | "presenceMs">,
  state: { lastHumanAt: number | null; lastRunAt: number | null },
  now: number,
): DiscoveryDecision {
  const { lastHumanAt } = state;
  if (lastHumanAt === null) {
    return { due: false, recheckAt: null, why: "no human activity recorded yet" };
  }
  const presenceEnds = lastHumanAt + t.presenceMs;
  if (presenceEnds <= now) {
    return {
      due: false,
      recheckAt: null,
      why: `nobody has been active for ${formatDuration(now - lastHumanAt)} (presence: ${formatDuration(t.presenceMs)}), so nobody is there to approve`,
    };
  }
  const idle = idleDecision({ quietMs: t.quietMs, cooldownMs: t.everyMs }, state, now);
  if (idle.due) return idle;
  // Past the presence window it could only become due through new activity.
  const recheckAt = idle.recheckAt < presenceEnds ? idle.recheckAt : null;
  return { due: false, recheckAt, why: idle.why };
}

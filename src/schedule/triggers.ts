import type { OnSpec } from "../config/events.js";
import type { TaskConfig } from "../config/schema.js";
import { nextCronSlot } from "../util/cron.js";
import { formatDuration, parseDuration } from "../util/duration.js";

/** A task's trigger, resolved from its declaration. */
export type Trigger =
  | { kind: "every"; intervalMs: number }
  | { kind: "cron"; pattern: string; timezone?: string }
  | { kind: "idle"; quietMs: number; cooldownMs: number }
  | { kind: "once" }
  /** `on:` webhook events (src/config/events.ts), coalesced over `debounce`. */
  | { kind: "event"; on: OnSpec; debounceMs: number }
  /** `after:` another task finished (with success or failure). */
  | { kind: "after"; task: string; when: "success" | "failure" };

/** Triggers that make a task due from outside (an event, another task), never by the clock. */
export const isReactive = (t: Trigger): t is Extract<Trigger, { kind: "event" | "after" }> =>
  t.kind === "event" || t.kind === "after";

/** The trigger a validated task declares (the schema guarantees exactly one). */
export function triggerOf(spec: TaskConfig): Trigger {
  if (spec.every !== undefined) {
    const intervalMs = parseDuration(spec.every);
    if (intervalMs === undefined) throw new Error(`every: ${spec.every} is not a duration`);
    return { kind: "every", intervalMs };
  }
  if (spec.cron !== undefined) {
    return {
      kind: "cron",
      pattern: spec.cron,
      ...(spec.timezone ? { timezone: spec.timezone } : {}),
    };
  }
  if (spec.idle !== undefined) {
    return {
      kind: "idle",
      quietMs: spec.idle.minutes * 60_000,
      cooldownMs: spec.idle.cooldown_minutes * 60_000,
    };
  }
  if (spec.on !== undefined) {
    return {
      kind: "event",
      on: spec.on,
      debounceMs: spec.debounce !== undefined ? (parseDuration(spec.debounce) ?? 0) : 0,
    };
  }
  if (spec.after !== undefined) {
    return typeof spec.after === "string"
      ? { kind: "after", task: spec.after, when: "success" }
      : { kind: "after", task: spec.after.task, when: spec.after.when };
  }
  return { kind: "once" };
}

/** For people: `every 30m`, `cron 0 3 * * * (Europe/Paris)`, `after 30m of quiet, at most every 1h`, `once`. */
export function describeTrigger(t: Trigger): string {
  switch (t.kind) {
    case "every":
      return `every ${formatDuration(t.intervalMs)}`;
    case "cron":
      return `cron ${t.pattern}${t.timezone ? ` (${t.timezone})` : " (UTC)"}`;
    case "idle":
      return `after ${formatDuration(t.quietMs)} of quiet, at most every ${formatDuration(t.cooldownMs)}`;
    case "once":
      return "once";
    case "event": {
      const events = Object.entries(t.on).map(([e, f]) => {
        const filters = Object.entries(f ?? {}).map(([k, v]) => `${k}: ${v.join("|")}`);
        return filters.length ? `${e} (${filters.join(", ")})` : e;
      });
      const debounce = t.debounceMs ? `, debounced ${formatDuration(t.debounceMs)}` : "";
      return `on ${events.join(" or ")}${debounce}`;
    }
    case "after":
      return `after ${t.task} ${t.when === "success" ? "succeeded" : "failed"}`;
  }
}

/**
 * When a newly declared (or re-enabled, or changed) task first becomes due:
 * `every` and `once` at their first chance (now); `cron` at its first slot after now;
 * `idle` now, when the idle rule (see `idleDecision`) is checked for the first time.
 */
export function firstRunAt(t: Trigger, now: number): number | null {
  switch (t.kind) {
    case "every":
    case "once":
    case "idle":
      return now;
    case "cron":
      return nextCronSlot(t, now);
    case "event":
    case "after":
      return null;
  }
}

/**
 * When a schedule is due next, once its due slot `slot` has been turned into a task at `now`.
 * Slots missed while nothing was running are not replayed: the schedule runs once now, and the
 * next slot is the first one after now.
 * - `every`: anchored to the previous slot (no drift): slot + k * interval, the first after now.
 * - `cron`: the first cron slot after now.
 * - `once`: never again (null); the run's outcome ends the task.
 * - `idle`: not before now + max(quiet period, cooldown): the run about to happen starts the
 *   cooldown, and any later activity needs the full quiet period. The idle rule decides then.
 */
export function nextRunAfterDispatch(t: Trigger, slot: number | null, now: number): number | null {
  switch (t.kind) {
    case "every": {
      const base = slot ?? now;
      if (base > now) return base;
      const k = Math.floor((now - base) / t.intervalMs) + 1;
      return base + k * t.intervalMs;
    }
    case "cron":
      return nextCronSlot(t, now);
    case "once":
    case "event":
    case "after":
      return null;
    case "idle":
      return now + Math.max(t.quietMs, t.cooldownMs);
  }
}

export type IdleDecision = { due: true } | { due: false; recheckAt: number; why: string };

/**
 * The idle rule. An `idle: {minutes, cooldown_minutes}` task is due at `now` when all hold:
 * 1. a person has acted in the repository (store.activity's last human activity exists), and
 *    that activity is after the task's last run (or the task never ran): it runs once per
 *    quiet spell, never again and again over the same silence;
 * 2. now - last human activity >= minutes (the repository has been quiet that long);
 * 3. the task never ran, or now - last run >= cooldown_minutes.
 * When not due, `recheckAt` is the earliest time it could become due given what is known; any
 * new activity only pushes that later, so rechecking then is never too late.
 */
export function idleDecision(
  t: { quietMs: number; cooldownMs: number },
  state: { lastHumanAt: number | null; lastRunAt: number | null },
  now: number,
): IdleDecision {
  const { lastHumanAt, lastRunAt } = state;
  const cooldownEnds = lastRunAt === null ? Number.NEGATIVE_INFINITY : lastRunAt + t.cooldownMs;
  if (lastHumanAt === null) {
    return { due: false, recheckAt: now + t.quietMs, why: "no human activity recorded yet" };
  }
  if (lastRunAt !== null && lastHumanAt <= lastRunAt) {
    return {
      due: false,
      recheckAt: Math.max(now + t.quietMs, cooldownEnds),
      why: "no human activity since the last run",
    };
  }
  const at = Math.max(lastHumanAt + t.quietMs, cooldownEnds);
  if (at <= now) return { due: true };
  const why =
    at === cooldownEnds ? "cooling down after the last run" : "people were active too recently";
  return { due: false, recheckAt: at, why };
}

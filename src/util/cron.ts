import { Cron } from "croner";

/** A paused croner instance for a schedule's pattern (never fires: used to compute slots). */
export const cronOf = (t: { pattern: string; timezone?: string }): Cron =>
  new Cron(t.pattern, { paused: true, ...(t.timezone ? { timezone: t.timezone } : {}) });

/**
 * The shortest gap between consecutive cron slots over the next `n` slots from a fixed
 * reference date (so the config check gives the same answer whenever it runs); null when the
 * expression never fires.
 */
export function minCronGapMs(
  t: { pattern: string; timezone?: string },
  n = 48,
  from = Date.UTC(2025, 0, 1),
): number | null {
  const runs = cronOf(t).nextRuns(n, new Date(from));
  if (runs.length === 0) return null;
  let min = Number.POSITIVE_INFINITY;
  for (let i = 1; i < runs.length; i++) {
    min = Math.min(min, runs[i]!.getTime() - runs[i - 1]!.getTime());
  }
  return min;
}

import type { Db } from "./db.js";

/** How a paced key spends its time: each use moves it `intervalMs` on; up to `burstMs` may be spent ahead. */
export interface PaceRate {
  /** The time one use costs (ms; rounded up to a whole ms). */
  intervalMs: number;
  /** How far ahead of now uses may run before they wait: `intervalMs` paces one at a time, a minute is a per-minute bucket. */
  burstMs: number;
}

/**
 * Paces shared by every process on the database (issue #16, replicas): GitHub's write pace per
 * installation, the LLM's requests and tokens per minute, "at most once per interval" jobs. Each
 * key holds one time, `tat` (the theoretical arrival time of the generic cell rate algorithm): a
 * use reserves `max(tat, now) + intervalMs` in one statement and may start at
 * `max(now, tat - burstMs)`. That is a token bucket of `burstMs / intervalMs` uses refilled
 * continuously, with reservations served in the order they were made, across replicas.
 */
export class PaceStore {
  constructor(private readonly db: Db) {}

  /** Reserves one use of `key`; returns when the caller may go (epoch ms, at least `now`). */
  reserve(key: string, rate: PaceRate, now = Date.now()): number {
    const interval = Math.max(0, Math.ceil(rate.intervalMs));
    const r = this.db
      .prepare(
        `INSERT INTO pace (key, tat) VALUES (?, ?)
         ON CONFLICT (key) DO UPDATE SET tat = max(pace.tat, ?) + ? RETURNING tat`,
      )
      .get(key, Math.round(now) + interval, Math.round(now), interval) as { tat: number };
    return Math.max(now, r.tat - Math.ceil(rate.burstMs));
  }

  /** Nothing on `key` starts before `until` (a 429's retry-after), and its bucket is empty then. */
  holdUntil(key: string, until: number, burstMs: number): void {
    const tat = Math.ceil(until + burstMs);
    this.db
      .prepare(
        `INSERT INTO pace (key, tat) VALUES (?, ?)
         ON CONFLICT (key) DO UPDATE SET tat = max(pace.tat, excluded.tat)`,
      )
      .run(key, tat);
  }

  /** True for exactly one caller per `everyMs` across every process: "this replica does it now". */
  once(key: string, everyMs: number, now = Date.now()): boolean {
    return (
      this.db
        .prepare(
          `INSERT INTO pace (key, tat) VALUES (?, ?)
           ON CONFLICT (key) DO UPDATE SET tat = excluded.tat WHERE pace.tat <= ?`,
        )
        .run(key, Math.ceil(now + everyMs), Math.round(now)).changes === 1
    );
  }
}

import type { Exec } from "./pg-exec.js";
import type { Async } from "../contract.js";
import type { PaceRate, PaceStore } from "../pace.js";

/** The shared paces (src/store/pace.ts): each statement locks its key's row, so replicas queue in order. */
export class PgPaceStore implements Async<PaceStore> {
  constructor(private readonly x: Exec) {}

  async reserve(key: string, rate: PaceRate, now = Date.now()): Promise<number> {
    const interval = Math.max(0, Math.ceil(rate.intervalMs));
    const r = await this.x.get<{ tat: number }>(
      `INSERT INTO pace (key, tat) VALUES (?, ?)
       ON CONFLICT (key) DO UPDATE SET tat = GREATEST(pace.tat, ?) + ? RETURNING tat`,
      [key, Math.round(now) + interval, Math.round(now), interval],
    );
    return Math.max(now, r!.tat - Math.ceil(rate.burstMs));
  }

  async holdUntil(key: string, until: number, burstMs: number): Promise<void> {
    await this.x.run(
      `INSERT INTO pace (key, tat) VALUES (?, ?)
       ON CONFLICT (key) DO UPDATE SET tat = GREATEST(pace.tat, excluded.tat)`,
      [key, Math.ceil(until + burstMs)],
    );
  }

  async once(key: string, everyMs: number, now = Date.now()): Promise<boolean> {
    return (
      (await this.x.run(
        `INSERT INTO pace (key, tat) VALUES (?, ?)
         ON CONFLICT (key) DO UPDATE SET tat = excluded.tat WHERE pace.tat <= ?`,
        [key, Math.ceil(now + everyMs), Math.round(now)],
      )) === 1
    );
  }
}

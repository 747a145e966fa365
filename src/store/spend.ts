import type { Db } from "./db.js";
import type { Usage } from "../core/domain.js";

/** UTC day and month keys: budgets roll over at midnight UTC. */
export const dayKey = (t: number): string => new Date(t).toISOString().slice(0, 10);
export const monthKey = (t: number): string => new Date(t).toISOString().slice(0, 7);

export class SpendStore {
  constructor(private readonly db: Db) {}

  add(repo: string, u: Usage, at = Date.now()): void {
    this.db
      .prepare(
        `INSERT INTO spend (repo, day, cost_usd, prompt_tokens, cached_tokens, completion_tokens, calls)
         VALUES (?, ?, ?, ?, ?, ?, 1)
         ON CONFLICT(repo, day) DO UPDATE SET cost_usd = cost_usd + excluded.cost_usd,
           prompt_tokens = prompt_tokens + excluded.prompt_tokens,
           cached_tokens = cached_tokens + excluded.cached_tokens,
           completion_tokens = completion_tokens + excluded.completion_tokens, calls = calls + 1`,
      )
      .run(repo, dayKey(at), u.costUsd, u.promptTokens, u.cachedTokens, u.completionTokens);
  }

  /** Sets a day's total (used to hydrate from the Action's dashboard issue). */
  setDay(repo: string, day: string, costUsd: number): void {
    this.db
      .prepare(
        `INSERT INTO spend (repo, day, cost_usd) VALUES (?, ?, ?)
         ON CONFLICT(repo, day) DO UPDATE SET cost_usd = MAX(cost_usd, excluded.cost_usd)`,
      )
      .run(repo, day, costUsd);
  }

  today(repo: string, now = Date.now()): number {
    const r = this.db
      .prepare("SELECT cost_usd FROM spend WHERE repo = ? AND day = ?")
      .get(repo, dayKey(now)) as { cost_usd: number } | undefined;
    return r?.cost_usd ?? 0;
  }

  month(repo: string, now = Date.now()): number {
    const r = this.db
      .prepare(
        "SELECT COALESCE(SUM(cost_usd), 0) AS c FROM spend WHERE repo = ? AND substr(day, 1, 7) = ?",
      )
      .get(repo, monthKey(now)) as { c: number };
    return r.c;
  }

  /** Per-day totals since `fromDay` (inclusive), all repos or one. */
  daily(fromDay: string, repo?: string): { day: string; costUsd: number; calls: number }[] {
    return this.db
      .prepare(
        `SELECT day, SUM(cost_usd) AS costUsd, SUM(calls) AS calls FROM spend WHERE day >= ?
         ${repo ? "AND repo = ?" : ""} GROUP BY day ORDER BY day`,
      )
      .all(fromDay, ...(repo ? [repo] : [])) as { day: string; costUsd: number; calls: number }[];
  }

  /** True the first time an alert level is crossed in a period (e.g. `day:2026-11-22`, 80). */
  markAlert(repo: string, period: string, level: number, now = Date.now()): boolean {
    return (
      this.db
        .prepare(
          "INSERT OR IGNORE INTO budget_alerts (repo, period, level, at) VALUES (?, ?, ?, ?)",
        )
        .run(repo, period, level, now).changes === 1
    );
  }
}

import type { Exec } from "./pg-exec.js";
import type { Async } from "../contract.js";
import type { SpendStore } from "../spend.js";
import { dayKey, monthKey } from "../spend.js";
import type { Usage } from "../../core/domain.js";

export class PgSpendStore implements Async<SpendStore> {
  constructor(private readonly x: Exec) {}

  async add(repo: string, u: Usage, at = Date.now()): Promise<void> {
    await this.x.run(
      `INSERT INTO spend AS s (repo, day, cost_usd, prompt_tokens, cached_tokens, completion_tokens, calls)
       VALUES (?, ?, ?, ?, ?, ?, 1)
       ON CONFLICT (repo, day) DO UPDATE SET cost_usd = s.cost_usd + excluded.cost_usd,
         prompt_tokens = s.prompt_tokens + excluded.prompt_tokens,
         cached_tokens = s.cached_tokens + excluded.cached_tokens,
         completion_tokens = s.completion_tokens + excluded.completion_tokens, calls = s.calls + 1`,
      [repo, dayKey(at), u.costUsd, u.promptTokens, u.cachedTokens, u.completionTokens],
    );
  }

  async setDay(repo: string, day: string, costUsd: number): Promise<void> {
    await this.x.run(
      `INSERT INTO spend AS s (repo, day, cost_usd) VALUES (?, ?, ?)
       ON CONFLICT (repo, day) DO UPDATE SET cost_usd = GREATEST(s.cost_usd, excluded.cost_usd)`,
      [repo, day, costUsd],
    );
  }

  async today(repo: string, now = Date.now()): Promise<number> {
    const r = await this.x.get<{ cost_usd: number }>(
      "SELECT cost_usd FROM spend WHERE repo = ? AND day = ?",
      [repo, dayKey(now)],
    );
    return r?.cost_usd ?? 0;
  }

  async month(repo: string, now = Date.now()): Promise<number> {
    const r = await this.x.get<{ c: number }>(
      "SELECT COALESCE(SUM(cost_usd), 0) AS c FROM spend WHERE repo = ? AND substr(day, 1, 7) = ?",
      [repo, monthKey(now)],
    );
    return r?.c ?? 0;
  }

  async daily(
    fromDay: string,
    repo?: string,
  ): Promise<{ day: string; costUsd: number; calls: number }[]> {
    return this.x.all(
      `SELECT day, SUM(cost_usd) AS costUsd, SUM(calls) AS calls FROM spend WHERE day >= ?
       ${repo ? "AND repo = ?" : ""} GROUP BY day ORDER BY day`,
      [fromDay, ...(repo ? [repo] : [])],
    );
  }

  async markAlert(repo: string, period: string, level: number, now = Date.now()): Promise<boolean> {
    const n = await this.x.run(
      "INSERT INTO budget_alerts (repo, period, level, at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
      [repo, period, level, now],
    );
    return n === 1;
  }
}

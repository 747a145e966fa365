import type { Exec } from "./pg-exec.js";
import type { Async } from "../contract.js";
import type { Batch } from "../batches.js";
import { batchPageQuery } from "../batches.js";
import type { DaySpend, LlmTotals, StatsStore, TaskCountFilter } from "../stats.js";
import { taskCountQuery } from "../stats.js";
import { dayKey, monthKey } from "../spend.js";

export class PgStatsStore implements Async<StatsStore> {
  constructor(private readonly x: Exec) {}

  async repoNames(): Promise<string[]> {
    const rows = await this.x.all<{ repo: string }>(
      `SELECT full_name AS repo FROM repositories
       UNION ALL SELECT repo FROM activity WHERE repo != '*'
       UNION ALL SELECT DISTINCT repo FROM tasks
       UNION ALL SELECT DISTINCT repo FROM spend
       UNION ALL SELECT DISTINCT repo FROM schedules`,
    );
    // SQLite's order (NOCASE: ASCII case folded) and its first spelling of each name.
    const seen = new Map<string, string>();
    for (const r of rows)
      if (!seen.has(r.repo.toLowerCase())) seen.set(r.repo.toLowerCase(), r.repo);
    return [...seen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
  }

  async spendByRepo(
    now = Date.now(),
  ): Promise<{ repo: string; todayUsd: number; monthUsd: number }[]> {
    return this.x.all(
      `SELECT min(repo) AS repo, SUM(CASE WHEN day = ? THEN cost_usd ELSE 0 END) AS todayUsd, SUM(cost_usd) AS monthUsd
       FROM spend WHERE day >= ? GROUP BY repo ORDER BY 1`,
      [dayKey(now), `${monthKey(now)}-01`],
    );
  }

  async dailySpend(fromDay: string, repo?: string): Promise<DaySpend[]> {
    return this.x.all<DaySpend>(
      `SELECT day, SUM(cost_usd) AS costUsd, SUM(calls) AS calls, SUM(prompt_tokens) AS promptTokens,
         SUM(cached_tokens) AS cachedTokens, SUM(completion_tokens) AS completionTokens
       FROM spend WHERE day >= ? ${repo ? "AND repo = ?" : ""} GROUP BY day ORDER BY day`,
      [fromDay, ...(repo ? [repo] : [])],
    );
  }

  async llmTotals(): Promise<LlmTotals> {
    const r = await this.x.get<LlmTotals>(
      `SELECT COALESCE(SUM(cost_usd), 0) AS costUsd, COALESCE(SUM(calls), 0) AS calls,
         COALESCE(SUM(prompt_tokens), 0) AS promptTokens, COALESCE(SUM(cached_tokens), 0) AS cachedTokens,
         COALESCE(SUM(completion_tokens), 0) AS completionTokens FROM spend`,
    );
    return r!;
  }

  async batchCounts(): Promise<{ type: string; status: string; count: number; items: number }[]> {
    return this.x.all(
      "SELECT type, status, COUNT(*) AS count, SUM(items) AS items FROM batches GROUP BY type, status ORDER BY type, status",
    );
  }

  async runCounts(): Promise<{ kind: string; status: string; count: number }[]> {
    return this.x.all(
      "SELECT kind, status, COUNT(*) AS count FROM runs GROUP BY kind, status ORDER BY kind, status",
    );
  }

  async automergeCounts(): Promise<{ state: string; count: number }[]> {
    return this.x.all(
      "SELECT state, COUNT(*) AS count FROM automerge_state GROUP BY state ORDER BY state",
    );
  }

  async queueAgeByType(now = Date.now()): Promise<{ type: string; ageMs: number }[]> {
    const rows = await this.x.all<{ type: string; t: number }>(
      "SELECT type, MIN(next_run_at) AS t FROM tasks WHERE status = 'pending' AND next_run_at <= ? GROUP BY type ORDER BY type",
      [now],
    );
    return rows.map((r) => ({ type: r.type, ageMs: now - r.t }));
  }

  async batches(
    filter: { repo?: string; beforeId?: number; limit?: number } = {},
  ): Promise<Batch[]> {
    const q = batchPageQuery(filter);
    return this.x.all<Batch>(q.sql, q.params);
  }

  async taskCount(filter: TaskCountFilter = {}): Promise<number> {
    const q = taskCountQuery(filter);
    return (await this.x.get<{ n: number }>(q.sql, q.params))?.n ?? 0;
  }
}

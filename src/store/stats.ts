import type { Batch } from "./batches.js";
import { batchPageQuery } from "./batches.js";
import type { Db } from "./db.js";
import type { SqlQuery } from "./sql-query.js";
import { whereSet } from "./sql-query.js";
import { dayKey, monthKey } from "./spend.js";

export interface DaySpend {
  day: string;
  costUsd: number;
  calls: number;
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
}

export interface LlmTotals {
  costUsd: number;
  calls: number;
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
}

export interface TaskCountFilter {
  repo?: string;
  status?: string;
  type?: string;
}

/** How many tasks match the filter (the total behind a page of `tasks.list`). */
export function taskCountQuery(filter: TaskCountFilter): SqlQuery {
  const w = whereSet([
    ["repo = ?", filter.repo],
    ["status = ?", filter.status],
    ["type = ?", filter.type],
  ]);
  return { sql: `SELECT COUNT(*) AS n FROM tasks ${w.sql}`, params: w.params };
}

/**
 * Read-only aggregates for the dashboard, the admin API and /bg/metrics. Every query here is
 * a GROUP BY over an index or a keyset page, cheap enough to run on each poll or scrape.
 */
export class StatsStore {
  constructor(private readonly db: Db) {}

  /** Every repository bg-agent knows of: installed, paused, with tasks, spend or schedules. */
  repoNames(): string[] {
    const rows = this.db
      .prepare(
        `SELECT full_name AS repo FROM repositories
         UNION SELECT repo FROM activity WHERE repo != '*'
         UNION SELECT DISTINCT repo FROM tasks
         UNION SELECT DISTINCT repo FROM spend
         UNION SELECT DISTINCT repo FROM schedules
         ORDER BY 1 COLLATE NOCASE`,
      )
      .all() as { repo: string }[];
    // UNION compares with BINARY collation: fold names that differ only by case.
    const seen = new Map<string, string>();
    for (const r of rows)
      if (!seen.has(r.repo.toLowerCase())) seen.set(r.repo.toLowerCase(), r.repo);
    return [...seen.values()];
  }

  /** Today's and this month's spend (UTC) of every repository with spend this month. */
  spendByRepo(now = Date.now()): { repo: string; todayUsd: number; monthUsd: number }[] {
    return this.db
      .prepare(
        `SELECT repo, SUM(CASE WHEN day = ? THEN cost_usd ELSE 0 END) AS todayUsd, SUM(cost_usd) AS monthUsd
         FROM spend WHERE day >= ? GROUP BY repo ORDER BY repo`,
      )
      .all(dayKey(now), `${monthKey(now)}-01`) as {
      repo: string;
      todayUsd: number;
      monthUsd: number;
    }[];
  }

  /** Per-day spend and tokens since `fromDay` (inclusive), all repositories or one; days without spend are absent. */
  dailySpend(fromDay: string, repo?: string): DaySpend[] {
    return this.db
      .prepare(
        `SELECT day, SUM(cost_usd) AS costUsd, SUM(calls) AS calls, SUM(prompt_tokens) AS promptTokens,
           SUM(cached_tokens) AS cachedTokens, SUM(completion_tokens) AS completionTokens
         FROM spend WHERE day >= ? ${repo ? "AND repo = ?" : ""} GROUP BY day ORDER BY day`,
      )
      .all(fromDay, ...(repo ? [repo] : [])) as DaySpend[];
  }

  /** Spend and tokens of all time (the spend table is never pruned). */
  llmTotals(): LlmTotals {
    return this.db
      .prepare(
        `SELECT COALESCE(SUM(cost_usd), 0) AS costUsd, COALESCE(SUM(calls), 0) AS calls,
           COALESCE(SUM(prompt_tokens), 0) AS promptTokens, COALESCE(SUM(cached_tokens), 0) AS cachedTokens,
           COALESCE(SUM(completion_tokens), 0) AS completionTokens FROM spend`,
      )
      .get() as LlmTotals;
  }

  batchCounts(): { type: string; status: string; count: number; items: number }[] {
    return this.db
      .prepare(
        "SELECT type, status, COUNT(*) AS count, SUM(items) AS items FROM batches GROUP BY type, status ORDER BY type, status",
      )
      .all() as { type: string; status: string; count: number; items: number }[];
  }

  runCounts(): { kind: string; status: string; count: number }[] {
    return this.db
      .prepare(
        "SELECT kind, status, COUNT(*) AS count FROM runs GROUP BY kind, status ORDER BY kind, status",
      )
      .all() as { kind: string; status: string; count: number }[];
  }

  automergeCounts(): { state: string; count: number }[] {
    return this.db
      .prepare("SELECT state, COUNT(*) AS count FROM automerge_state GROUP BY state ORDER BY state")
      .all() as { state: string; count: number }[];
  }

  /** Age in ms of the oldest due pending task of each type (work waiting to be picked up). */
  queueAgeByType(now = Date.now()): { type: string; ageMs: number }[] {
    return (
      this.db
        .prepare(
          "SELECT type, MIN(next_run_at) AS t FROM tasks WHERE status = 'pending' AND next_run_at <= ? GROUP BY type ORDER BY type",
        )
        .all(now) as { type: string; t: number }[]
    ).map((r) => ({ type: r.type, ageMs: now - r.t }));
  }

  /** Batches newest first, keyset-paged by id like runs. */
  batches(filter: { repo?: string; beforeId?: number; limit?: number } = {}): Batch[] {
    const q = batchPageQuery(filter);
    return this.db.prepare(q.sql).all(...q.params) as Batch[];
  }

  /** Tasks matching a filter (the total behind a page of `tasks.list`). */
  taskCount(filter: TaskCountFilter = {}): number {
    const q = taskCountQuery(filter);
    return (this.db.prepare(q.sql).get(...q.params) as { n: number }).n;
  }
}

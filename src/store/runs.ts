import type { Db } from "./db.js";
import type { SqlQuery } from "./sql-query.js";
import { whereSet } from "./sql-query.js";
import type { Run, RunKind, RunStatus, Usage } from "../core/domain.js";

/** The columns of a `Run`, camelCased (shared with the PostgreSQL part). */
export const RUN_COLS = `id, repo, kind, ref, url, task_id AS taskId, batch_id AS batchId, status, summary, error,
  prompt_tokens AS promptTokens, cached_tokens AS cachedTokens, completion_tokens AS completionTokens,
  cost_usd AS costUsd, started_at AS startedAt, finished_at AS finishedAt`;

export interface RunInput {
  repo: string;
  kind: RunKind;
  ref?: string | null;
  url?: string | null;
  taskId?: number | null;
  batchId?: number | null;
  status: RunStatus;
  summary?: string | null;
  error?: string | null;
  usage?: Usage;
  startedAt?: number;
  finishedAt?: number | null;
}

export interface RunFilter {
  repo?: string;
  kind?: RunKind;
  /** Only runs with this ref (`task:<name>`, `issue:12`). */
  ref?: string;
  /** At most 500. */
  limit?: number;
  beforeId?: number;
}

export function listQuery(filter: RunFilter): SqlQuery {
  const w = whereSet([
    ["repo = ?", filter.repo],
    ["kind = ?", filter.kind],
    ["ref = ?", filter.ref],
    ["id < ?", filter.beforeId],
  ]);
  return {
    sql: `SELECT ${RUN_COLS} FROM runs ${w.sql} ORDER BY id DESC LIMIT ?`,
    params: [...w.params, Math.max(1, Math.min(filter.limit ?? 50, 500))],
  };
}

const NO_USAGE: Usage = { promptTokens: 0, cachedTokens: 0, completionTokens: 0, costUsd: 0 };

/** Inserts a run; returns its id. */
export function recordRunQuery(r: RunInput, now: number): SqlQuery {
  const u = r.usage ?? NO_USAGE;
  return {
    sql: `INSERT INTO runs (repo, kind, ref, url, task_id, batch_id, status, summary, error, prompt_tokens,
          cached_tokens, completion_tokens, cost_usd, started_at, finished_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
    params: [
      r.repo,
      r.kind,
      r.ref ?? null,
      r.url ?? null,
      r.taskId ?? null,
      r.batchId ?? null,
      r.status,
      r.summary ?? null,
      r.error ?? null,
      u.promptTokens,
      u.cachedTokens,
      u.completionTokens,
      u.costUsd,
      r.startedAt ?? now,
      r.finishedAt === undefined ? now : r.finishedAt,
    ],
  };
}

export interface RunFinish {
  summary?: string;
  error?: string;
  usage?: Usage;
  url?: string | null;
}

/** Sets a run's status and end; keeps what the patch leaves out; adds its usage. */
export function finishRunQuery(
  id: number,
  status: RunStatus,
  patch: RunFinish,
  now: number,
): SqlQuery {
  const u = patch.usage ?? NO_USAGE;
  return {
    sql: `UPDATE runs SET status = ?, summary = COALESCE(?, summary), error = COALESCE(?, error), url = COALESCE(?, url),
         prompt_tokens = prompt_tokens + ?, cached_tokens = cached_tokens + ?, completion_tokens = completion_tokens + ?,
         cost_usd = cost_usd + ?, finished_at = ? WHERE id = ?`,
    params: [
      status,
      patch.summary ?? null,
      patch.error ?? null,
      patch.url ?? null,
      u.promptTokens,
      u.cachedTokens,
      u.completionTokens,
      u.costUsd,
      now,
      id,
    ],
  };
}

export class RunStore {
  constructor(private readonly db: Db) {}

  record(r: RunInput, now = Date.now()): number {
    const q = recordRunQuery(r, now);
    return (this.db.prepare(q.sql).get(...q.params) as { id: number }).id;
  }

  finish(id: number, status: RunStatus, patch: RunFinish = {}, now = Date.now()): void {
    const q = finishRunQuery(id, status, patch, now);
    this.db.prepare(q.sql).run(...q.params);
  }

  /**
   * Newest first, keyset-paged by id (`beforeId`: the smallest id of the previous page). Each
   * filter combination is served by an index ordered by id (see migration 002), so a page costs
   * the same with 100 or 100,000 runs.
   */
  list(filter: RunFilter = {}): Run[] {
    const q = listQuery(filter);
    return this.db.prepare(q.sql).all(...q.params) as Run[];
  }

  /** SQLite's plan for `list(filter)`, one line per step (tests assert an index serves it). */
  explainList(filter: RunFilter = {}): string[] {
    const q = listQuery(filter);
    return (
      this.db.prepare(`EXPLAIN QUERY PLAN ${q.sql}`).all(...q.params) as { detail: string }[]
    ).map((r) => r.detail);
  }

  /** The newest run of a repository with this ref (`task:<name>`), by the runs_repo_ref index. */
  latestFor(repo: string, ref: string): Run | undefined {
    return this.db
      .prepare(`SELECT ${RUN_COLS} FROM runs WHERE repo = ? AND ref = ? ORDER BY id DESC LIMIT 1`)
      .get(repo, ref) as Run | undefined;
  }

  /** Runs recorded after `id`, oldest first (what a connected runner reports to the app). */
  after(id: number, limit = 500): Run[] {
    return this.db
      .prepare(`SELECT ${RUN_COLS} FROM runs WHERE id > ? ORDER BY id LIMIT ?`)
      .all(id, limit) as Run[];
  }

  /** The newest run's id, 0 when there is none. */
  lastId(): number {
    const r = this.db.prepare("SELECT MAX(id) AS id FROM runs").get() as { id: number | null };
    return r.id ?? 0;
  }

  byId(id: number): Run | undefined {
    return this.db.prepare(`SELECT ${RUN_COLS} FROM runs WHERE id = ?`).get(id) as Run | undefined;
  }

  count(repo?: string): number {
    const r = this.db
      .prepare(`SELECT COUNT(*) AS n FROM runs ${repo ? "WHERE repo = ?" : ""}`)
      .get(...(repo ? [repo] : [])) as {
      n: number;
    };
    return r.n;
  }
}

import type { Db } from "./db.js";
import type { SqlQuery } from "./sql-query.js";
import { whereSet } from "./sql-query.js";
import type { Usage } from "../core/domain.js";

export interface Batch {
  id: number;
  repo: string;
  type: string;
  provider: string | null;
  model: string | null;
  status: string;
  items: number;
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
  costUsd: number;
  externalId: string | null;
  error: string | null;
  startedAt: number;
  finishedAt: number | null;
}

/** The columns of a `Batch`, camelCased (shared with the stats part and the PostgreSQL parts). */
export const BATCH_COLS = `id, repo, type, provider, model, status, items, prompt_tokens AS promptTokens,
  cached_tokens AS cachedTokens, completion_tokens AS completionTokens, cost_usd AS costUsd,
  external_id AS externalId, error, started_at AS startedAt, finished_at AS finishedAt`;

/** A batch that starts now, as `start` takes it. */
export interface BatchStart {
  repo: string;
  type: string;
  provider?: string;
  model?: string;
  taskIds: number[];
  externalId?: string;
}

/** Inserts a running batch (its task links are each engine's); returns its id. */
export function startBatchQuery(b: BatchStart, now: number): SqlQuery {
  return {
    sql: `INSERT INTO batches (repo, type, provider, model, status, items, external_id, started_at)
         VALUES (?, ?, ?, ?, 'running', ?, ?, ?) RETURNING id`,
    params: [
      b.repo,
      b.type,
      b.provider ?? null,
      b.model ?? null,
      b.taskIds.length,
      b.externalId ?? null,
      now,
    ],
  };
}

/** Inserts a finished batch as it is; returns its id. */
export function recordBatchQuery(b: Omit<Batch, "id" | "externalId">): SqlQuery {
  return {
    sql: `INSERT INTO batches (repo, type, provider, model, status, items, prompt_tokens, cached_tokens,
          completion_tokens, cost_usd, error, started_at, finished_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
    params: [
      b.repo,
      b.type,
      b.provider,
      b.model,
      b.status,
      b.items,
      b.promptTokens,
      b.cachedTokens,
      b.completionTokens,
      b.costUsd,
      b.error,
      b.startedAt,
      b.finishedAt,
    ],
  };
}

/** Batches newest first, keyset-paged by id like runs (the stats part's page). */
export function batchPageQuery(filter: {
  repo?: string;
  beforeId?: number;
  limit?: number;
}): SqlQuery {
  const w = whereSet([
    ["repo = ?", filter.repo],
    ["id < ?", filter.beforeId],
  ]);
  return {
    sql: `SELECT ${BATCH_COLS} FROM batches ${w.sql} ORDER BY id DESC LIMIT ?`,
    params: [...w.params, Math.max(1, Math.min(filter.limit ?? 20, 500))],
  };
}

export class BatchStore {
  constructor(private readonly db: Db) {}

  start(b: BatchStart, now = Date.now()): number {
    return this.db.transaction(() => {
      const q = startBatchQuery(b, now);
      const { id } = this.db.prepare(q.sql).get(...q.params) as { id: number };
      const link = this.db.prepare(
        "INSERT OR IGNORE INTO batch_tasks (batch_id, task_id) VALUES (?, ?)",
      );
      for (const t of b.taskIds) link.run(id, t);
      return id;
    })();
  }

  /** Records a finished batch as it is (a connected runner's, reported to the app); returns its id. */
  record(b: Omit<Batch, "id" | "externalId">): number {
    const q = recordBatchQuery(b);
    return (this.db.prepare(q.sql).get(...q.params) as { id: number }).id;
  }

  /** Batches started after `id`, oldest first. */
  after(id: number, limit = 100): Batch[] {
    return this.db
      .prepare(`SELECT ${BATCH_COLS} FROM batches WHERE id > ? ORDER BY id LIMIT ?`)
      .all(id, limit) as Batch[];
  }

  /** The newest batch's id, 0 when there is none. */
  lastId(): number {
    const r = this.db.prepare("SELECT MAX(id) AS id FROM batches").get() as { id: number | null };
    return r.id ?? 0;
  }

  addUsage(id: number, u: Usage): void {
    this.db
      .prepare(
        `UPDATE batches SET prompt_tokens = prompt_tokens + ?, cached_tokens = cached_tokens + ?,
         completion_tokens = completion_tokens + ?, cost_usd = cost_usd + ? WHERE id = ?`,
      )
      .run(u.promptTokens, u.cachedTokens, u.completionTokens, u.costUsd, id);
  }

  finish(
    id: number,
    status: "done" | "failed" | "partial" | "submitted",
    error: string | null = null,
    now = Date.now(),
  ): void {
    this.db
      .prepare("UPDATE batches SET status = ?, error = ?, finished_at = ? WHERE id = ?")
      .run(status, error, status === "submitted" ? null : now, id);
  }

  setExternalId(id: number, externalId: string): void {
    this.db.prepare("UPDATE batches SET external_id = ? WHERE id = ?").run(externalId, id);
  }

  get(id: number): Batch | undefined {
    return this.db.prepare(`SELECT ${BATCH_COLS} FROM batches WHERE id = ?`).get(id) as
      Batch | undefined;
  }

  taskIds(id: number): number[] {
    return (
      this.db.prepare("SELECT task_id FROM batch_tasks WHERE batch_id = ?").all(id) as {
        task_id: number;
      }[]
    ).map((r) => r.task_id);
  }

  /**
   * Per task, the status of the newest provider-side batch (OpenAI Batch API: `external_id`
   * set) it was part of. Tasks never sent through one are absent.
   */
  externalStatus(taskIds: number[]): Map<number, { batchId: number; status: string }> {
    const out = new Map<number, { batchId: number; status: string }>();
    const stmt = this.db.prepare(
      `SELECT b.id AS batchId, b.status AS status FROM batch_tasks bt JOIN batches b ON b.id = bt.batch_id
       WHERE bt.task_id = ? AND b.external_id IS NOT NULL ORDER BY b.id DESC LIMIT 1`,
    );
    for (const id of taskIds) {
      const r = stmt.get(id) as { batchId: number; status: string } | undefined;
      if (r) out.set(id, r);
    }
    return out;
  }

  /** OpenAI Batch API jobs submitted and not yet collected. */
  submitted(repo?: string): Batch[] {
    return this.db
      .prepare(
        `SELECT ${BATCH_COLS} FROM batches WHERE status = 'submitted' ${repo ? "AND repo = ?" : ""} ORDER BY id`,
      )
      .all(...(repo ? [repo] : [])) as Batch[];
  }

  list(filter: { repo?: string; limit?: number; offset?: number } = {}): Batch[] {
    return this.db
      .prepare(
        `SELECT ${BATCH_COLS} FROM batches ${filter.repo ? "WHERE repo = ?" : ""} ORDER BY started_at DESC, id DESC LIMIT ? OFFSET ?`,
      )
      .all(
        ...(filter.repo ? [filter.repo] : []),
        filter.limit ?? 50,
        filter.offset ?? 0,
      ) as Batch[];
  }
}

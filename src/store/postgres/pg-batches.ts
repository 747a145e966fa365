import type { Exec } from "./pg-exec.js";
import type { Async } from "../contract.js";
import type { Batch, BatchStart, BatchStore } from "../batches.js";
import { BATCH_COLS, recordBatchQuery, startBatchQuery } from "../batches.js";
import type { Usage } from "../../core/domain.js";

export class PgBatchStore implements Async<BatchStore> {
  constructor(private readonly x: Exec) {}

  async start(b: BatchStart, now = Date.now()): Promise<number> {
    return this.x.tx(async (x) => {
      const q = startBatchQuery(b, now);
      const id = (await x.get<{ id: number }>(q.sql, q.params))!.id;
      if (b.taskIds.length) {
        await x.run(
          `INSERT INTO batch_tasks (batch_id, task_id) SELECT ?, unnest(?::bigint[])
           ON CONFLICT DO NOTHING`,
          [id, b.taskIds],
        );
      }
      return id;
    });
  }

  async record(b: Omit<Batch, "id" | "externalId">): Promise<number> {
    const q = recordBatchQuery(b);
    return (await this.x.get<{ id: number }>(q.sql, q.params))!.id;
  }

  async after(id: number, limit = 100): Promise<Batch[]> {
    return this.x.all<Batch>(`SELECT ${BATCH_COLS} FROM batches WHERE id > ? ORDER BY id LIMIT ?`, [
      id,
      limit,
    ]);
  }

  async lastId(): Promise<number> {
    const r = await this.x.get<{ id: number | null }>("SELECT MAX(id) AS id FROM batches");
    return r?.id ?? 0;
  }

  async addUsage(id: number, u: Usage): Promise<void> {
    await this.x.run(
      `UPDATE batches SET prompt_tokens = prompt_tokens + ?, cached_tokens = cached_tokens + ?,
       completion_tokens = completion_tokens + ?, cost_usd = cost_usd + ? WHERE id = ?`,
      [u.promptTokens, u.cachedTokens, u.completionTokens, u.costUsd, id],
    );
  }

  async finish(
    id: number,
    status: "done" | "failed" | "partial" | "submitted",
    error: string | null = null,
    now = Date.now(),
  ): Promise<void> {
    await this.x.run("UPDATE batches SET status = ?, error = ?, finished_at = ? WHERE id = ?", [
      status,
      error,
      status === "submitted" ? null : now,
      id,
    ]);
  }

  async setExternalId(id: number, externalId: string): Promise<void> {
    await this.x.run("UPDATE batches SET external_id = ? WHERE id = ?", [externalId, id]);
  }

  async get(id: number): Promise<Batch | undefined> {
    return this.x.get<Batch>(`SELECT ${BATCH_COLS} FROM batches WHERE id = ?`, [id]);
  }

  async taskIds(id: number): Promise<number[]> {
    const rows = await this.x.all<{ task_id: number }>(
      "SELECT task_id FROM batch_tasks WHERE batch_id = ? ORDER BY task_id",
      [id],
    );
    return rows.map((r) => r.task_id);
  }

  async externalStatus(
    taskIds: number[],
  ): Promise<Map<number, { batchId: number; status: string }>> {
    const out = new Map<number, { batchId: number; status: string }>();
    if (!taskIds.length) return out;
    const rows = await this.x.all<{ taskId: number; batchId: number; status: string }>(
      `SELECT DISTINCT ON (bt.task_id) bt.task_id AS taskId, b.id AS batchId, b.status AS status
       FROM batch_tasks bt JOIN batches b ON b.id = bt.batch_id
       WHERE bt.task_id = ANY(?::bigint[]) AND b.external_id IS NOT NULL
       ORDER BY bt.task_id, b.id DESC`,
      [taskIds],
    );
    for (const r of rows) out.set(r.taskId, { batchId: r.batchId, status: r.status });
    return out;
  }

  async submitted(repo?: string): Promise<Batch[]> {
    return this.x.all<Batch>(
      `SELECT ${BATCH_COLS} FROM batches WHERE status = 'submitted' ${repo ? "AND repo = ?" : ""} ORDER BY id`,
      repo ? [repo] : [],
    );
  }

  async list(filter: { repo?: string; limit?: number; offset?: number } = {}): Promise<Batch[]> {
    return this.x.all<Batch>(
      `SELECT ${BATCH_COLS} FROM batches ${filter.repo ? "WHERE repo = ?" : ""} ORDER BY started_at DESC, id DESC LIMIT ? OFFSET ?`,
      [...(filter.repo ? [filter.repo] : []), filter.limit ?? 50, filter.offset ?? 0],
    );
  }
}

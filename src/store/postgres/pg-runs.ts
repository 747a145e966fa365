import type { Exec } from "./pg-exec.js";
import { RUN_COLS, finishRunQuery, listQuery, recordRunQuery } from "../runs.js";
import type { Async } from "../contract.js";
import type { RunFilter, RunFinish, RunInput, RunStore } from "../runs.js";
import type { Run, RunStatus } from "../../core/domain.js";

export class PgRunStore implements Async<RunStore> {
  constructor(private readonly x: Exec) {}

  async record(r: RunInput, now = Date.now()): Promise<number> {
    const q = recordRunQuery(r, now);
    return (await this.x.get<{ id: number }>(q.sql, q.params))!.id;
  }

  async finish(
    id: number,
    status: RunStatus,
    patch: RunFinish = {},
    now = Date.now(),
  ): Promise<void> {
    const q = finishRunQuery(id, status, patch, now);
    await this.x.run(q.sql, q.params);
  }

  async list(filter: RunFilter = {}): Promise<Run[]> {
    const q = listQuery(filter);
    return this.x.all<Run>(q.sql, q.params);
  }

  /** PostgreSQL's plan for `list(filter)`, one line per step. */
  async explainList(filter: RunFilter = {}): Promise<string[]> {
    const q = listQuery(filter);
    const rows = await this.x.all<{ "QUERY PLAN": string }>(`EXPLAIN ${q.sql}`, q.params);
    return rows.map((r) => r["QUERY PLAN"]);
  }

  async latestFor(repo: string, ref: string): Promise<Run | undefined> {
    return this.x.get<Run>(
      `SELECT ${RUN_COLS} FROM runs WHERE repo = ? AND ref = ? ORDER BY id DESC LIMIT 1`,
      [repo, ref],
    );
  }

  async after(id: number, limit = 500): Promise<Run[]> {
    return this.x.all<Run>(`SELECT ${RUN_COLS} FROM runs WHERE id > ? ORDER BY id LIMIT ?`, [
      id,
      limit,
    ]);
  }

  async lastId(): Promise<number> {
    const r = await this.x.get<{ id: number | null }>("SELECT MAX(id) AS id FROM runs");
    return r?.id ?? 0;
  }

  async byId(id: number): Promise<Run | undefined> {
    return this.x.get<Run>(`SELECT ${RUN_COLS} FROM runs WHERE id = ?`, [id]);
  }

  async count(repo?: string): Promise<number> {
    const r = await this.x.get<{ n: number }>(
      `SELECT COUNT(*) AS n FROM runs ${repo ? "WHERE repo = ?" : ""}`,
      repo ? [repo] : [],
    );
    return r?.n ?? 0;
  }
}

import type { Exec } from "./pg-exec.js";
import { listQuery } from "../runs.js";
import type { Async } from "../contract.js";
import type { RunFilter, RunInput, RunStore } from "../runs.js";
import type { Run, RunStatus, Usage } from "../../core/domain.js";

const COLS = `id, repo, kind, ref, url, task_id AS taskId, batch_id AS batchId, status, summary, error,
  prompt_tokens AS promptTokens, cached_tokens AS cachedTokens, completion_tokens AS completionTokens,
  cost_usd AS costUsd, started_at AS startedAt, finished_at AS finishedAt`;

export class PgRunStore implements Async<RunStore> {
  constructor(private readonly x: Exec) {}

  async record(r: RunInput, now = Date.now()): Promise<number> {
    const u = r.usage ?? { promptTokens: 0, cachedTokens: 0, completionTokens: 0, costUsd: 0 };
    const row = await this.x.get<{ id: number }>(
      `INSERT INTO runs (repo, kind, ref, url, task_id, batch_id, status, summary, error, prompt_tokens,
        cached_tokens, completion_tokens, cost_usd, started_at, finished_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
      [
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
    );
    return row!.id;
  }

  async finish(
    id: number,
    status: RunStatus,
    patch: { summary?: string; error?: string; usage?: Usage; url?: string | null } = {},
    now = Date.now(),
  ): Promise<void> {
    const u = patch.usage;
    await this.x.run(
      `UPDATE runs SET status = ?, summary = COALESCE(?, summary), error = COALESCE(?, error), url = COALESCE(?, url),
       prompt_tokens = prompt_tokens + ?, cached_tokens = cached_tokens + ?, completion_tokens = completion_tokens + ?,
       cost_usd = cost_usd + ?, finished_at = ? WHERE id = ?`,
      [
        status,
        patch.summary ?? null,
        patch.error ?? null,
        patch.url ?? null,
        u?.promptTokens ?? 0,
        u?.cachedTokens ?? 0,
        u?.completionTokens ?? 0,
        u?.costUsd ?? 0,
        now,
        id,
      ],
    );
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
      `SELECT ${COLS} FROM runs WHERE repo = ? AND ref = ? ORDER BY id DESC LIMIT 1`,
      [repo, ref],
    );
  }

  async after(id: number, limit = 500): Promise<Run[]> {
    return this.x.all<Run>(`SELECT ${COLS} FROM runs WHERE id > ? ORDER BY id LIMIT ?`, [
      id,
      limit,
    ]);
  }

  async lastId(): Promise<number> {
    const r = await this.x.get<{ id: number | null }>("SELECT MAX(id) AS id FROM runs");
    return r?.id ?? 0;
  }

  async byId(id: number): Promise<Run | undefined> {
    return this.x.get<Run>(`SELECT ${COLS} FROM runs WHERE id = ?`, [id]);
  }

  async count(repo?: string): Promise<number> {
    const r = await this.x.get<{ n: number }>(
      `SELECT COUNT(*) AS n FROM runs ${repo ? "WHERE repo = ?" : ""}`,
      repo ? [repo] : [],
    );
    return r?.n ?? 0;
  }
}

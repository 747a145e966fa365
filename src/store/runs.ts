import type { Db } from "./db.js";
import type { Run, RunKind, RunStatus, Usage } from "../core/domain.js";

const COLS = `id, repo, kind, ref, url, task_id AS taskId, batch_id AS batchId, status, summary, error,
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

export function listQuery(filter: RunFilter): { sql: string; params: unknown[] } {
  const clauses: string[] = [];
  const params: unknown[] = [];
  if (filter.repo) {
    clauses.push("repo = ?");
    params.push(filter.repo);
  }
  if (filter.kind) {
    clauses.push("kind = ?");
    params.push(filter.kind);
  }
  if (filter.ref) {
    clauses.push("ref = ?");
    params.push(filter.ref);
  }
  if (filter.beforeId) {
    clauses.push("id < ?");
    params.push(filter.beforeId);
  }
  const where = clauses.length ? `WHERE ${clauses.join(" AND ")}` : "";
  params.push(Math.max(1, Math.min(filter.limit ?? 50, 500)));
  return { sql: `SELECT ${COLS} FROM runs ${where} ORDER BY id DESC LIMIT ?`, params };
}

export class RunStore {
  constructor(private readonly db: Db) {}

  record(r: RunInput, now = Date.now()): number {
    const u = r.usage ?? { promptTokens: 0, cachedTokens: 0, completionTokens: 0, costUsd: 0 };
    const res = this.db
      .prepare(
        `INSERT INTO runs (repo, kind, ref, url, task_id, batch_id, status, summary, error, prompt_tokens,
          cached_tokens, completion_tokens, cost_usd, started_at, finished_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
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
      );
    return Number(res.lastInsertRowid);
  }

  finish(
    id: number,
    status: RunStatus,
    patch: { summary?: string; error?: string; usage?: Usage; url?: string | null } = {},
    now = Date.now(),
  ): void {
    const u = patch.usage;
    this.db
      .prepare(
        `UPDATE runs SET status = ?, summary = COALESCE(?, summary), error = COALESCE(?, error), url = COALESCE(?, url),
         prompt_tokens = prompt_tokens + ?, cached_tokens = cached_tokens + ?, completion_tokens = completion_tokens + ?,
         cost_usd = cost_usd + ?, finished_at = ? WHERE id = ?`,
      )
      .run(
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
      );
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
      .prepare(`SELECT ${COLS} FROM runs WHERE repo = ? AND ref = ? ORDER BY id DESC LIMIT 1`)
      .get(repo, ref) as Run | undefined;
  }

  /** Runs recorded after `id`, oldest first (what a connected runner reports to the app). */
  after(id: number, limit = 500): Run[] {
    return this.db
      .prepare(`SELECT ${COLS} FROM runs WHERE id > ? ORDER BY id LIMIT ?`)
      .all(id, limit) as Run[];
  }

  /** The newest run's id, 0 when there is none. */
  lastId(): number {
    const r = this.db.prepare("SELECT MAX(id) AS id FROM runs").get() as { id: number | null };
    return r.id ?? 0;
  }

  byId(id: number): Run | undefined {
    return this.db.prepare(`SELECT ${COLS} FROM runs WHERE id = ?`).get(id) as Run | undefined;
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

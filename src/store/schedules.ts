import type { Db } from "./db.js";
import type { SqlQuery } from "./sql-query.js";

export type ScheduleStatus = "proposed" | "active" | "paused" | "done" | "failed";

export interface Schedule {
  id: number;
  repo: string;
  name: string;
  /** The task's declaration from config (JSON of the zod-parsed task). */
  spec: Record<string, unknown>;
  specHash: string;
  origin: "config" | "proposed";
  status: ScheduleStatus;
  nextRunAt: number | null;
  lastRunAt: number | null;
  runCount: number;
  maxRuns: number | null;
  lastResultHash: string | null;
  consecutiveFailures: number;
  /** Why the status is what it is (paused: `disabled in config`, `failed twice: ...`), or null. */
  statusReason: string | null;
  updatedAt: number;
}

/** A row of the table as the drivers return it (shared with the PostgreSQL part). */
export interface Row {
  id: number;
  repo: string;
  name: string;
  spec_json: string;
  spec_hash: string;
  origin: string;
  status: string;
  next_run_at: number | null;
  last_run_at: number | null;
  run_count: number;
  max_runs: number | null;
  last_result_hash: string | null;
  consecutive_failures: number;
  status_reason: string | null;
  updated_at: number;
}

export const toSchedule = (r: Row): Schedule => ({
  id: r.id,
  repo: r.repo,
  name: r.name,
  spec: JSON.parse(r.spec_json) as Record<string, unknown>,
  specHash: r.spec_hash,
  origin: r.origin as Schedule["origin"],
  status: r.status as ScheduleStatus,
  nextRunAt: r.next_run_at,
  lastRunAt: r.last_run_at,
  runCount: r.run_count,
  maxRuns: r.max_runs,
  lastResultHash: r.last_result_hash,
  consecutiveFailures: r.consecutive_failures,
  statusReason: r.status_reason ?? null,
  updatedAt: r.updated_at,
});

/** The columns a due-check needs, without parsing every spec. */
export interface DueRow {
  id: number;
  repo: string;
  name: string;
  nextRunAt: number;
}

/** A schedule from config, as `upsert` takes it. */
export interface ScheduleUpsert {
  repo: string;
  name: string;
  spec: Record<string, unknown>;
  specHash: string;
  origin?: Schedule["origin"];
  status?: ScheduleStatus;
  nextRunAt: number | null;
  maxRuns: number | null;
}

/** A new schedule, as `create` takes it. */
export interface ScheduleCreate {
  repo: string;
  name: string;
  spec: Record<string, unknown>;
  specHash: string;
  origin: Schedule["origin"];
  status: ScheduleStatus;
  statusReason?: string | null;
  nextRunAt: number | null;
  maxRuns: number | null;
}

/** The fields `update` may change. */
export type SchedulePatch = Partial<
  Pick<
    Schedule,
    | "status"
    | "statusReason"
    | "nextRunAt"
    | "lastRunAt"
    | "runCount"
    | "lastResultHash"
    | "consecutiveFailures"
    | "spec"
    | "specHash"
    | "origin"
    | "maxRuns"
  >
>;

/** Inserts or updates by (repo, name), keeping status and next run unless the spec changed; returns the row. */
export function upsertScheduleQuery(s: ScheduleUpsert, now: number): SqlQuery {
  return {
    sql: `INSERT INTO schedules AS t (repo, name, spec_json, spec_hash, origin, status, next_run_at, max_runs, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (repo, name) DO UPDATE SET
           status = CASE WHEN t.spec_hash != excluded.spec_hash THEN excluded.status ELSE t.status END,
           next_run_at = CASE WHEN t.spec_hash != excluded.spec_hash THEN excluded.next_run_at ELSE t.next_run_at END,
           spec_json = excluded.spec_json, spec_hash = excluded.spec_hash, max_runs = excluded.max_runs,
           updated_at = excluded.updated_at
         RETURNING *`,
    params: [
      s.repo,
      s.name,
      JSON.stringify(s.spec),
      s.specHash,
      s.origin ?? "config",
      s.status ?? "active",
      s.nextRunAt,
      s.maxRuns,
      now,
    ],
  };
}

/** Inserts a new schedule; returns the row. */
export function createScheduleQuery(s: ScheduleCreate, now: number): SqlQuery {
  return {
    sql: `INSERT INTO schedules (repo, name, spec_json, spec_hash, origin, status, status_reason, next_run_at, max_runs, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
    params: [
      s.repo,
      s.name,
      JSON.stringify(s.spec),
      s.specHash,
      s.origin,
      s.status,
      s.statusReason ?? null,
      s.nextRunAt,
      s.maxRuns,
      now,
    ],
  };
}

const PATCH_COLUMNS: Record<keyof SchedulePatch, string> = {
  status: "status",
  statusReason: "status_reason",
  nextRunAt: "next_run_at",
  lastRunAt: "last_run_at",
  runCount: "run_count",
  lastResultHash: "last_result_hash",
  consecutiveFailures: "consecutive_failures",
  spec: "spec_json",
  specHash: "spec_hash",
  origin: "origin",
  maxRuns: "max_runs",
};

/** Sets the patch's defined fields (and updated_at); null when it sets none. */
export function updateScheduleQuery(
  id: number,
  patch: SchedulePatch,
  now: number,
): SqlQuery | null {
  const sets: string[] = [];
  const params: unknown[] = [];
  for (const [k, v] of Object.entries(patch)) {
    const col = PATCH_COLUMNS[k as keyof SchedulePatch] as string | undefined;
    if (col && v !== undefined) {
      sets.push(`${col} = ?`);
      params.push(k === "spec" ? JSON.stringify(v) : v);
    }
  }
  if (!sets.length) return null;
  return {
    sql: `UPDATE schedules SET ${sets.join(", ")}, updated_at = ? WHERE id = ?`,
    params: [...params, now, id],
  };
}

export class ScheduleStore {
  constructor(private readonly db: Db) {}

  get(repo: string, name: string): Schedule | undefined {
    const r = this.db
      .prepare("SELECT * FROM schedules WHERE repo = ? AND name = ?")
      .get(repo, name) as Row | undefined;
    return r ? toSchedule(r) : undefined;
  }

  byId(id: number): Schedule | undefined {
    const r = this.db.prepare("SELECT * FROM schedules WHERE id = ?").get(id) as Row | undefined;
    return r ? toSchedule(r) : undefined;
  }

  list(repo?: string): Schedule[] {
    return (
      this.db
        .prepare(`SELECT * FROM schedules ${repo ? "WHERE repo = ?" : ""} ORDER BY repo, name`)
        .all(...(repo ? [repo] : [])) as Row[]
    ).map(toSchedule);
  }

  /** Inserts or updates a schedule from config; keeps run state unless the spec changed. */
  upsert(s: ScheduleUpsert, now = Date.now()): Schedule {
    const q = upsertScheduleQuery(s, now);
    return toSchedule(this.db.prepare(q.sql).get(...q.params) as Row);
  }

  /** Due schedules, by the (status, next_run_at) index; `repo` narrows to one repository. */
  due(now = Date.now(), limit = 1000, repo?: string): Schedule[] {
    return (
      this.db
        .prepare(
          `SELECT * FROM schedules WHERE status = 'active' AND next_run_at <= ? ${repo ? "AND repo = ?" : ""}
           ORDER BY next_run_at LIMIT ?`,
        )
        .all(now, ...(repo ? [repo] : []), limit) as Row[]
    ).map(toSchedule);
  }

  /** The same selection as `due`, only the columns a tick needs (no spec parsing). */
  dueRows(now = Date.now(), limit = 1000): DueRow[] {
    return this.db
      .prepare(
        `SELECT id, repo, name, next_run_at AS nextRunAt FROM schedules
         WHERE status = 'active' AND next_run_at <= ? ORDER BY next_run_at LIMIT ?`,
      )
      .all(now, limit) as DueRow[];
  }

  /**
   * SQLite's plans for the due selections (benchmarks and tests check they use an index): the
   * global one a tick makes, the repositories to visit, and one repository's due rows.
   */
  explainDue(): { global: string[]; repos: string[]; repo: string[] } {
    const plan = (sql: string, ...params: unknown[]) =>
      (this.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map(
        (r) => r.detail,
      );
    return {
      global: plan(
        "SELECT id, repo, name, next_run_at AS nextRunAt FROM schedules WHERE status = 'active' AND next_run_at <= ? ORDER BY next_run_at LIMIT ?",
        0,
        1,
      ),
      repos: plan(
        "SELECT DISTINCT repo FROM schedules WHERE status = 'active' AND next_run_at <= ?",
        0,
      ),
      repo: plan(
        "SELECT * FROM schedules WHERE status = 'active' AND next_run_at <= ? AND repo = ? ORDER BY next_run_at LIMIT ?",
        0,
        "o/r",
        1,
      ),
    };
  }

  /** Repositories with at least one due schedule (the worker visits them). */
  dueRepos(now = Date.now()): string[] {
    const rows = this.db
      .prepare("SELECT DISTINCT repo FROM schedules WHERE status = 'active' AND next_run_at <= ?")
      .all(now) as { repo: string }[];
    return rows.map((r) => r.repo);
  }

  /** Inserts a new schedule (sync and proposals decide status and first run). */
  create(s: ScheduleCreate, now = Date.now()): Schedule {
    const q = createScheduleQuery(s, now);
    return toSchedule(this.db.prepare(q.sql).get(...q.params) as Row);
  }

  delete(id: number): boolean {
    return this.db.prepare("DELETE FROM schedules WHERE id = ?").run(id).changes === 1;
  }

  /** Counts by status (all repositories, or one). */
  counts(repo?: string): Partial<Record<ScheduleStatus, number>> {
    const rows = this.db
      .prepare(
        `SELECT status, COUNT(*) AS n FROM schedules ${repo ? "WHERE repo = ?" : ""} GROUP BY status`,
      )
      .all(...(repo ? [repo] : [])) as { status: ScheduleStatus; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.status, r.n]));
  }

  update(id: number, patch: SchedulePatch, now = Date.now()): void {
    const q = updateScheduleQuery(id, patch, now);
    if (q) this.db.prepare(q.sql).run(...q.params);
  }

  /** Removes config schedules no longer declared. */
  removeMissing(repo: string, keep: string[]): number {
    const placeholders = keep.map(() => "?").join(",");
    return this.db
      .prepare(
        `DELETE FROM schedules WHERE repo = ? AND origin = 'config' ${keep.length ? `AND name NOT IN (${placeholders})` : ""}`,
      )
      .run(repo, ...keep).changes;
  }
}

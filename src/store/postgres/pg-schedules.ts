import type { Exec } from "./pg-exec.js";
import type { Async } from "../contract.js";
import type {
  DueRow,
  Row,
  Schedule,
  ScheduleCreate,
  SchedulePatch,
  ScheduleStatus,
  ScheduleStore,
  ScheduleUpsert,
} from "../schedules.js";
import {
  createScheduleQuery,
  toSchedule,
  updateScheduleQuery,
  upsertScheduleQuery,
} from "../schedules.js";

const plan = async (x: Exec, sql: string, params: unknown[]): Promise<string[]> =>
  (await x.all<{ "QUERY PLAN": string }>(`EXPLAIN ${sql}`, params)).map((r) => r["QUERY PLAN"]);

export class PgScheduleStore implements Async<ScheduleStore> {
  constructor(private readonly x: Exec) {}

  async get(repo: string, name: string): Promise<Schedule | undefined> {
    const r = await this.x.get<Row>("SELECT * FROM schedules WHERE repo = ? AND name = ?", [
      repo,
      name,
    ]);
    return r ? toSchedule(r) : undefined;
  }

  async byId(id: number): Promise<Schedule | undefined> {
    const r = await this.x.get<Row>("SELECT * FROM schedules WHERE id = ?", [id]);
    return r ? toSchedule(r) : undefined;
  }

  async list(repo?: string): Promise<Schedule[]> {
    const rows = await this.x.all<Row>(
      `SELECT * FROM schedules ${repo ? "WHERE repo = ?" : ""} ORDER BY repo, name`,
      repo ? [repo] : [],
    );
    return rows.map(toSchedule);
  }

  async upsert(s: ScheduleUpsert, now = Date.now()): Promise<Schedule> {
    const q = upsertScheduleQuery(s, now);
    return toSchedule((await this.x.get<Row>(q.sql, q.params))!);
  }

  async due(now = Date.now(), limit = 1000, repo?: string): Promise<Schedule[]> {
    const rows = await this.x.all<Row>(
      `SELECT * FROM schedules WHERE status = 'active' AND next_run_at <= ? ${repo ? "AND repo = ?" : ""}
       ORDER BY next_run_at LIMIT ?`,
      [now, ...(repo ? [repo] : []), limit],
    );
    return rows.map(toSchedule);
  }

  async dueRows(now = Date.now(), limit = 1000): Promise<DueRow[]> {
    return this.x.all<DueRow>(
      `SELECT id, repo, name, next_run_at AS nextRunAt FROM schedules
       WHERE status = 'active' AND next_run_at <= ? ORDER BY next_run_at LIMIT ?`,
      [now, limit],
    );
  }

  /** PostgreSQL's plans for the due selections (EXPLAIN lines). */
  async explainDue(): Promise<{ global: string[]; repos: string[]; repo: string[] }> {
    return {
      global: await plan(
        this.x,
        "SELECT id, repo, name, next_run_at AS nextRunAt FROM schedules WHERE status = 'active' AND next_run_at <= ? ORDER BY next_run_at LIMIT ?",
        [0, 1],
      ),
      repos: await plan(
        this.x,
        "SELECT DISTINCT repo FROM schedules WHERE status = 'active' AND next_run_at <= ?",
        [0],
      ),
      repo: await plan(
        this.x,
        "SELECT * FROM schedules WHERE status = 'active' AND next_run_at <= ? AND repo = ? ORDER BY next_run_at LIMIT ?",
        [0, "o/r", 1],
      ),
    };
  }

  async dueRepos(now = Date.now()): Promise<string[]> {
    const rows = await this.x.all<{ repo: string }>(
      "SELECT min(repo) AS repo FROM schedules WHERE status = 'active' AND next_run_at <= ? GROUP BY repo",
      [now],
    );
    return rows.map((r) => r.repo);
  }

  async create(s: ScheduleCreate, now = Date.now()): Promise<Schedule> {
    const q = createScheduleQuery(s, now);
    return toSchedule((await this.x.get<Row>(q.sql, q.params))!);
  }

  async delete(id: number): Promise<boolean> {
    return (await this.x.run("DELETE FROM schedules WHERE id = ?", [id])) === 1;
  }

  async counts(repo?: string): Promise<Partial<Record<ScheduleStatus, number>>> {
    const rows = await this.x.all<{ status: ScheduleStatus; n: number }>(
      `SELECT status, COUNT(*) AS n FROM schedules ${repo ? "WHERE repo = ?" : ""} GROUP BY status`,
      repo ? [repo] : [],
    );
    return Object.fromEntries(rows.map((r) => [r.status, r.n]));
  }

  async update(id: number, patch: SchedulePatch, now = Date.now()): Promise<void> {
    const q = updateScheduleQuery(id, patch, now);
    if (q) await this.x.run(q.sql, q.params);
  }

  async removeMissing(repo: string, keep: string[]): Promise<number> {
    return this.x.run(
      `DELETE FROM schedules WHERE repo = ? AND origin = 'config' ${keep.length ? "AND NOT (name = ANY(?::text[]))" : ""}`,
      [repo, ...(keep.length ? [keep] : [])],
    );
  }
}

import type { Exec } from "./pg-exec.js";
import type { Async } from "../contract.js";
import type { DueRow, Schedule, ScheduleStatus, ScheduleStore } from "../schedules.js";
import { toSchedule } from "../schedules.js";

type Row = Parameters<typeof toSchedule>[0];

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

  async upsert(s: Parameters<ScheduleStore["upsert"]>[0], now = Date.now()): Promise<Schedule> {
    const r = await this.x.get<Row>(
      `INSERT INTO schedules AS t (repo, name, spec_json, spec_hash, origin, status, next_run_at, max_runs, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (repo, name) DO UPDATE SET
         status = CASE WHEN t.spec_hash != excluded.spec_hash THEN excluded.status ELSE t.status END,
         next_run_at = CASE WHEN t.spec_hash != excluded.spec_hash THEN excluded.next_run_at ELSE t.next_run_at END,
         spec_json = excluded.spec_json, spec_hash = excluded.spec_hash, max_runs = excluded.max_runs,
         updated_at = excluded.updated_at
       RETURNING *`,
      [
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
    );
    return toSchedule(r!);
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

  async create(s: Parameters<ScheduleStore["create"]>[0], now = Date.now()): Promise<Schedule> {
    const r = await this.x.get<Row>(
      `INSERT INTO schedules (repo, name, spec_json, spec_hash, origin, status, status_reason, next_run_at, max_runs, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
      [
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
    );
    return toSchedule(r!);
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

  async update(
    id: number,
    patch: Parameters<ScheduleStore["update"]>[1],
    now = Date.now(),
  ): Promise<void> {
    const map: Record<string, string> = {
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
    const sets: string[] = [];
    const params: unknown[] = [];
    for (const [k, v] of Object.entries(patch)) {
      const col = map[k];
      if (col && v !== undefined) {
        sets.push(`${col} = ?`);
        params.push(k === "spec" ? JSON.stringify(v) : v);
      }
    }
    if (!sets.length) return;
    await this.x.run(`UPDATE schedules SET ${sets.join(", ")}, updated_at = ? WHERE id = ?`, [
      ...params,
      now,
      id,
    ]);
  }

  async removeMissing(repo: string, keep: string[]): Promise<number> {
    return this.x.run(
      `DELETE FROM schedules WHERE repo = ? AND origin = 'config' ${keep.length ? "AND NOT (name = ANY(?::text[]))" : ""}`,
      [repo, ...(keep.length ? [keep] : [])],
    );
  }
}

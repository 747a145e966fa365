import type { StoreDialect } from "./contract.js";
import type { Db } from "./db.js";
import type { SqlQuery } from "./sql-query.js";
import { minMax } from "./sql-query.js";

export interface Activity {
  repo: string;
  lastHumanAt: number | null;
  lastHumanLogin: string | null;
  paused: boolean;
  /** null with paused = indefinite. */
  pausedUntil: number | null;
  pausedBy: string | null;
  pausedReason: string | null;
}

/** Shared with the PostgreSQL part (src/store/postgres). */
export interface Row {
  repo: string;
  last_human_at: number | null;
  last_human_login: string | null;
  paused: number;
  paused_until: number | null;
  paused_by: string | null;
  paused_reason: string | null;
}

/** A repository's activity from its row; no row: no human seen, not paused. */
export function toActivity(repo: string, r: Row | undefined): Activity {
  if (!r) {
    return {
      repo,
      lastHumanAt: null,
      lastHumanLogin: null,
      paused: false,
      pausedUntil: null,
      pausedBy: null,
      pausedReason: null,
    };
  }
  return {
    repo: r.repo,
    lastHumanAt: r.last_human_at,
    lastHumanLogin: r.last_human_login,
    paused: r.paused === 1,
    pausedUntil: r.paused_until,
    pausedBy: r.paused_by,
    pausedReason: r.paused_reason,
  };
}

/** A human acted at `at`: the latest action (and its login) wins, whatever the order they arrive in. */
export function recordHumanQuery(
  dialect: StoreDialect,
  repo: string,
  login: string,
  at: number,
): SqlQuery {
  return {
    sql: `INSERT INTO activity AS a (repo, last_human_at, last_human_login) VALUES (?, ?, ?)
         ON CONFLICT (repo) DO UPDATE SET
           last_human_login = CASE WHEN excluded.last_human_at >= COALESCE(a.last_human_at, 0) THEN excluded.last_human_login ELSE a.last_human_login END,
           last_human_at = ${minMax(dialect).max}(COALESCE(a.last_human_at, 0), excluded.last_human_at)`,
    params: [repo, at, login],
  };
}

/** Pauses `repo` ('*': everything) until `until` (null: until resumed). */
export function pauseQuery(
  repo: string,
  by: string,
  until: number | null,
  reason: string | null,
): SqlQuery {
  return {
    sql: `INSERT INTO activity (repo, paused, paused_until, paused_by, paused_reason) VALUES (?, 1, ?, ?, ?)
         ON CONFLICT (repo) DO UPDATE SET paused = 1, paused_until = excluded.paused_until,
           paused_by = excluded.paused_by, paused_reason = excluded.paused_reason`,
    params: [repo, until, by, reason],
  };
}

export const RESUME_SQL =
  "UPDATE activity SET paused = 0, paused_until = NULL, paused_by = NULL, paused_reason = NULL WHERE repo = ? AND paused = 1";

export class ActivityStore {
  constructor(private readonly db: Db) {}

  recordHuman(repo: string, login: string, at = Date.now()): void {
    const q = recordHumanQuery("sqlite", repo, login, at);
    this.db.prepare(q.sql).run(...q.params);
  }

  get(repo: string): Activity {
    return toActivity(
      repo,
      this.db.prepare("SELECT * FROM activity WHERE repo = ?").get(repo) as Row | undefined,
    );
  }

  list(): Activity[] {
    const rows = this.db.prepare("SELECT repo FROM activity ORDER BY repo").all() as {
      repo: string;
    }[];
    return rows.map((r) => this.get(r.repo));
  }

  /** `repo` '*' pauses everything. `until` null = until resumed. */
  pause(repo: string, by: string, until: number | null, reason: string | null = null): void {
    const q = pauseQuery(repo, by, until, reason);
    this.db.prepare(q.sql).run(...q.params);
  }

  resume(repo: string): boolean {
    return this.db.prepare(RESUME_SQL).run(repo).changes > 0;
  }

  /** A manual pause in force for this repository (or globally via '*'); expired pauses end by themselves. */
  manualPause(repo: string, now = Date.now()): Activity | null {
    for (const key of [repo, "*"]) {
      const a = this.get(key);
      if (a.paused && (a.pausedUntil === null || a.pausedUntil > now)) return a;
      if (a.paused && a.pausedUntil !== null && a.pausedUntil <= now) this.resume(key);
    }
    return null;
  }

  /** True when a human acted in the repository within the window. */
  isActive(repo: string, windowMs: number, now = Date.now()): boolean {
    const a = this.get(repo);
    return a.lastHumanAt !== null && now - a.lastHumanAt < windowMs;
  }
}

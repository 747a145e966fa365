import type { Db } from "./db.js";

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

export class ActivityStore {
  constructor(private readonly db: Db) {}

  recordHuman(repo: string, login: string, at = Date.now()): void {
    this.db
      .prepare(
        `INSERT INTO activity (repo, last_human_at, last_human_login) VALUES (?, ?, ?)
         ON CONFLICT(repo) DO UPDATE SET
           last_human_login = CASE WHEN excluded.last_human_at >= COALESCE(last_human_at, 0) THEN excluded.last_human_login ELSE last_human_login END,
           last_human_at = MAX(COALESCE(last_human_at, 0), excluded.last_human_at)`,
      )
      .run(repo, at, login);
  }

  get(repo: string): Activity {
    const r = this.db.prepare("SELECT * FROM activity WHERE repo = ?").get(repo) as Row | undefined;
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

  list(): Activity[] {
    const rows = this.db.prepare("SELECT repo FROM activity ORDER BY repo").all() as {
      repo: string;
    }[];
    return rows.map((r) => this.get(r.repo));
  }

  /** `repo` '*' pauses everything. `until` null = until resumed. */
  pause(repo: string, by: string, until: number | null, reason: string | null = null): void {
    this.db
      .prepare(
        `INSERT INTO activity (repo, paused, paused_until, paused_by, paused_reason) VALUES (?, 1, ?, ?, ?)
         ON CONFLICT(repo) DO UPDATE SET paused = 1, paused_until = excluded.paused_until,
           paused_by = excluded.paused_by, paused_reason = excluded.paused_reason`,
      )
      .run(repo, until, by, reason);
  }

  resume(repo: string): boolean {
    return (
      this.db
        .prepare(
          "UPDATE activity SET paused = 0, paused_until = NULL, paused_by = NULL, paused_reason = NULL WHERE repo = ? AND paused = 1",
        )
        .run(repo).changes > 0
    );
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

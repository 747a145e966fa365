import type { Exec } from "./pg-exec.js";
import type { Row } from "../activity.js";
import type { Async } from "../contract.js";
import type { Activity, ActivityStore } from "../activity.js";

export class PgActivityStore implements Async<ActivityStore> {
  constructor(private readonly x: Exec) {}

  async recordHuman(repo: string, login: string, at = Date.now()): Promise<void> {
    await this.x.run(
      `INSERT INTO activity AS a (repo, last_human_at, last_human_login) VALUES (?, ?, ?)
       ON CONFLICT (repo) DO UPDATE SET
         last_human_login = CASE WHEN excluded.last_human_at >= COALESCE(a.last_human_at, 0) THEN excluded.last_human_login ELSE a.last_human_login END,
         last_human_at = GREATEST(COALESCE(a.last_human_at, 0), excluded.last_human_at)`,
      [repo, at, login],
    );
  }

  async get(repo: string): Promise<Activity> {
    const r = await this.x.get<Row>("SELECT * FROM activity WHERE repo = ?", [repo]);
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

  async list(): Promise<Activity[]> {
    const rows = await this.x.all<{ repo: string }>("SELECT repo FROM activity ORDER BY repo");
    return Promise.all(rows.map((r) => this.get(r.repo)));
  }

  async pause(
    repo: string,
    by: string,
    until: number | null,
    reason: string | null = null,
  ): Promise<void> {
    await this.x.run(
      `INSERT INTO activity (repo, paused, paused_until, paused_by, paused_reason) VALUES (?, 1, ?, ?, ?)
       ON CONFLICT (repo) DO UPDATE SET paused = 1, paused_until = excluded.paused_until,
         paused_by = excluded.paused_by, paused_reason = excluded.paused_reason`,
      [repo, until, by, reason],
    );
  }

  async resume(repo: string): Promise<boolean> {
    const n = await this.x.run(
      "UPDATE activity SET paused = 0, paused_until = NULL, paused_by = NULL, paused_reason = NULL WHERE repo = ? AND paused = 1",
      [repo],
    );
    return n > 0;
  }

  async manualPause(repo: string, now = Date.now()): Promise<Activity | null> {
    for (const key of [repo, "*"]) {
      const a = await this.get(key);
      if (a.paused && (a.pausedUntil === null || a.pausedUntil > now)) return a;
      if (a.paused && a.pausedUntil !== null && a.pausedUntil <= now) await this.resume(key);
    }
    return null;
  }

  async isActive(repo: string, windowMs: number, now = Date.now()): Promise<boolean> {
    const a = await this.get(repo);
    return a.lastHumanAt !== null && now - a.lastHumanAt < windowMs;
  }
}

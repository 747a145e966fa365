import type { Exec } from "./pg-exec.js";
import type { Row } from "../activity.js";
import type { Async } from "../contract.js";
import type { Activity, ActivityStore } from "../activity.js";
import { RESUME_SQL, pauseQuery, recordHumanQuery, toActivity } from "../activity.js";

export class PgActivityStore implements Async<ActivityStore> {
  constructor(private readonly x: Exec) {}

  async recordHuman(repo: string, login: string, at = Date.now()): Promise<void> {
    const q = recordHumanQuery("postgres", repo, login, at);
    await this.x.run(q.sql, q.params);
  }

  async get(repo: string): Promise<Activity> {
    return toActivity(repo, await this.x.get<Row>("SELECT * FROM activity WHERE repo = ?", [repo]));
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
    const q = pauseQuery(repo, by, until, reason);
    await this.x.run(q.sql, q.params);
  }

  async resume(repo: string): Promise<boolean> {
    return (await this.x.run(RESUME_SQL, [repo])) > 0;
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

import type { Db } from "./db.js";

/** How a report reached (or did not reach) a target outside GitHub. */
export type ReportDeliveryStatus = "delivered" | "failed" | "unset";

export interface ReportDelivery {
  id: number;
  repo: string;
  /** The prompt task's name. */
  task: string;
  /** `slack:NAME`, `discord:NAME`, `webhook:NAME`. */
  target: string;
  status: ReportDeliveryStatus;
  attempts: number;
  /** Why it failed, in words (never the URL or a secret). */
  error: string | null;
  /** The run whose report it was (null: dry or unknown). */
  runId: number | null;
  createdAt: number;
}

/** A row of the table as the drivers return it (shared with the PostgreSQL part). */
export interface Row {
  id: number;
  repo: string;
  task: string;
  target: string;
  status: string;
  attempts: number;
  error: string | null;
  run_id: number | null;
  created_at: number;
}

export const toDelivery = (r: Row): ReportDelivery => ({
  id: r.id,
  repo: r.repo,
  task: r.task,
  target: r.target,
  status: r.status as ReportDeliveryStatus,
  attempts: r.attempts,
  error: r.error,
  runId: r.run_id,
  createdAt: r.created_at,
});

/** Outcomes of reports sent outside GitHub (`report_to: slack:…`), for `/bg status` and the dashboard. */
export class ReportDeliveryStore {
  constructor(private readonly db: Db) {}

  record(d: Omit<ReportDelivery, "id" | "createdAt">, now = Date.now()): number {
    const r = this.db
      .prepare(
        `INSERT INTO report_deliveries (repo, task, target, status, attempts, error, run_id, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
      )
      .get(d.repo, d.task, d.target, d.status, d.attempts, d.error, d.runId, now) as {
      id: number;
    };
    return r.id;
  }

  /** A repository's newest outcomes, newest first. */
  recent(repo: string, limit = 50): ReportDelivery[] {
    return (
      this.db
        .prepare("SELECT * FROM report_deliveries WHERE repo = ? ORDER BY id DESC LIMIT ?")
        .all(repo, limit) as Row[]
    ).map(toDelivery);
  }

  /**
   * Per (task, target), the newest outcome when it was not delivered: what is failing now. A
   * target that delivered since is not listed.
   */
  failing(repo: string, limit = 200): ReportDelivery[] {
    const seen = new Set<string>();
    const out: ReportDelivery[] = [];
    for (const d of this.recent(repo, limit)) {
      const key = `${d.task}\n${d.target}`;
      if (seen.has(key)) continue;
      seen.add(key);
      if (d.status !== "delivered") out.push(d);
    }
    return out;
  }
}

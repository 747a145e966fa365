import type { Exec } from "./pg-exec.js";
import type { Async } from "../contract.js";
import type { ReportDelivery, ReportDeliveryStore, Row } from "../report-deliveries.js";
import { toDelivery } from "../report-deliveries.js";

export class PgReportDeliveryStore implements Async<ReportDeliveryStore> {
  constructor(private readonly x: Exec) {}

  async record(d: Omit<ReportDelivery, "id" | "createdAt">, now = Date.now()): Promise<number> {
    const r = await this.x.get<{ id: number }>(
      `INSERT INTO report_deliveries (repo, task, target, status, attempts, error, run_id, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
      [d.repo, d.task, d.target, d.status, d.attempts, d.error, d.runId, now],
    );
    return r!.id;
  }

  async recent(repo: string, limit = 50): Promise<ReportDelivery[]> {
    return (
      await this.x.all<Row>(
        "SELECT * FROM report_deliveries WHERE repo = ? ORDER BY id DESC LIMIT ?",
        [repo, limit],
      )
    ).map(toDelivery);
  }

  /** Per (task, target), the newest outcome when it was not delivered (as the SQLite body). */
  async failing(repo: string, limit = 200): Promise<ReportDelivery[]> {
    const seen = new Set<string>();
    const out: ReportDelivery[] = [];
    for (const d of await this.recent(repo, limit)) {
      const key = `${d.task}\n${d.target}`;
      if (seen.has(key)) continue;
      seen.add(key);
      if (d.status !== "delivered") out.push(d);
    }
    return out;
  }
}

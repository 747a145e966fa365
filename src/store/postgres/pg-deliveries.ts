import type { Exec } from "./pg-exec.js";
import { keepBrief, withBriefSql } from "./pg-repositories.js";
import type { WithBrief } from "./pg-repositories.js";
import type { Async } from "../contract.js";
import type { DeliveryStore } from "../deliveries.js";

const RECORD =
  "INSERT INTO deliveries (id, event, action, repo, received_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING";

/** The record and its repository's brief in one statement: one row, `recorded` and the brief's columns. */
const RECORD_WITH_BRIEF = `WITH d AS (${RECORD} RETURNING 1) ${withBriefSql("SELECT EXISTS (SELECT 1 FROM d) AS recorded")}`;

export class PgDeliveryStore implements Async<DeliveryStore> {
  constructor(private readonly x: Exec) {}

  /**
   * INSERT … ON CONFLICT DO NOTHING on the delivery id: true only for the replica that recorded it
   * first. In a transaction (a delivery's), the same statement reads the delivery's repository row
   * and keeps it for the handlers' `repos.brief` (src/store/postgres/pg-repositories.ts): one
   * round trip fewer a delivery.
   */
  async record(
    d: { id: string; event: string; action?: string | null; repo?: string | null },
    now = Date.now(),
  ): Promise<boolean> {
    const params = [d.id, d.event, d.action ?? null, d.repo ?? null, now];
    if (d.repo && this.x.kept) {
      const row = await this.x.get<WithBrief<{ recorded: boolean }>>(RECORD_WITH_BRIEF, [
        ...params,
        d.repo,
      ]);
      if (!row?.recorded) return false;
      keepBrief(this.x, d.repo, row);
      return true;
    }
    return (await this.x.run(RECORD, params)) === 1;
  }

  async forget(id: string): Promise<void> {
    await this.x.run("DELETE FROM deliveries WHERE id = ?", [id]);
  }

  async setOutcome(id: string, outcome: string): Promise<void> {
    await this.x.run("UPDATE deliveries SET outcome = ? WHERE id = ?", [outcome, id]);
  }

  async has(id: string): Promise<boolean> {
    return (await this.x.get("SELECT 1 AS one FROM deliveries WHERE id = ?", [id])) !== undefined;
  }

  async countsByEvent(): Promise<{ event: string; count: number }[]> {
    return this.x.all(
      "SELECT event, COUNT(*) AS count FROM deliveries GROUP BY event ORDER BY event",
    );
  }

  async prune(before: number): Promise<number> {
    return this.x.run("DELETE FROM deliveries WHERE received_at < ?", [before]);
  }
}

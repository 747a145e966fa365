import type { Exec } from "./pg-exec.js";
import type { Async } from "../contract.js";
import type { DeliveryStore } from "../deliveries.js";

export class PgDeliveryStore implements Async<DeliveryStore> {
  constructor(private readonly x: Exec) {}

  /** INSERT … ON CONFLICT DO NOTHING on the delivery id: true only for the replica that recorded it first. */
  async record(
    d: { id: string; event: string; action?: string | null; repo?: string | null },
    now = Date.now(),
  ): Promise<boolean> {
    const n = await this.x.run(
      "INSERT INTO deliveries (id, event, action, repo, received_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
      [d.id, d.event, d.action ?? null, d.repo ?? null, now],
    );
    return n === 1;
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

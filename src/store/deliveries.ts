import type { Db } from "./db.js";

export class DeliveryStore {
  constructor(private readonly db: Db) {}

  /** Records a delivery id; false when it was seen before (a redelivery or a replay). */
  record(
    d: { id: string; event: string; action?: string | null; repo?: string | null },
    now = Date.now(),
  ): boolean {
    const res = this.db
      .prepare(
        "INSERT OR IGNORE INTO deliveries (id, event, action, repo, received_at) VALUES (?, ?, ?, ?, ?)",
      )
      .run(d.id, d.event, d.action ?? null, d.repo ?? null, now);
    return res.changes === 1;
  }

  /** Forgets one delivery (its handling failed: a redelivery must be processed). */
  forget(id: string): void {
    this.db.prepare("DELETE FROM deliveries WHERE id = ?").run(id);
  }

  setOutcome(id: string, outcome: string): void {
    this.db.prepare("UPDATE deliveries SET outcome = ? WHERE id = ?").run(outcome, id);
  }

  has(id: string): boolean {
    return this.db.prepare("SELECT 1 FROM deliveries WHERE id = ?").get(id) !== undefined;
  }

  countsByEvent(): { event: string; count: number }[] {
    return this.db
      .prepare("SELECT event, COUNT(*) AS count FROM deliveries GROUP BY event ORDER BY event")
      .all() as { event: string; count: number }[];
  }

  /** Forgets deliveries older than `before` (GitHub redelivers for a few days at most). */
  prune(before: number): number {
    return this.db.prepare("DELETE FROM deliveries WHERE received_at < ?").run(before).changes;
  }
}

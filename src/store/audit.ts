import type { Db } from "./db.js";

export interface AuditEntry {
  id: number;
  at: number;
  actor: string;
  repo: string | null;
  target: string | null;
  command: string;
  args: string | null;
  result: string;
  deliveryId: string | null;
}

export class AuditStore {
  constructor(private readonly db: Db) {}

  write(e: Omit<AuditEntry, "id" | "at"> & { at?: number }): number {
    const res = this.db
      .prepare(
        "INSERT INTO audit (at, actor, repo, target, command, args, result, delivery_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      )
      .run(e.at ?? Date.now(), e.actor, e.repo, e.target, e.command, e.args, e.result, e.deliveryId);
    return Number(res.lastInsertRowid);
  }

  list(filter: { repo?: string; limit?: number; offset?: number } = {}): AuditEntry[] {
    const rows = this.db
      .prepare(
        `SELECT id, at, actor, repo, target, command, args, result, delivery_id AS deliveryId FROM audit
         ${filter.repo ? "WHERE repo = ?" : ""} ORDER BY at DESC, id DESC LIMIT ? OFFSET ?`,
      )
      .all(...(filter.repo ? [filter.repo] : []), filter.limit ?? 100, filter.offset ?? 0) as AuditEntry[];
    return rows;
  }
}

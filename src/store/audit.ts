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
  /** What caused it, e.g. `comment:4567#0` (the first command of comment 4567); null for other callers. */
  source: string | null;
}

export class AuditStore {
  constructor(private readonly db: Db) {}

  write(
    e: Omit<AuditEntry, "id" | "at" | "source"> & { at?: number; source?: string | null },
  ): number {
    const res = this.db
      .prepare(
        "INSERT INTO audit (at, actor, repo, target, command, args, result, delivery_id, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
      )
      .run(
        e.at ?? Date.now(),
        e.actor,
        e.repo,
        e.target,
        e.command,
        e.args,
        e.result,
        e.deliveryId,
        e.source ?? null,
      );
    return Number(res.lastInsertRowid);
  }

  /** The newest entry written for a source (see `source`), if any. */
  bySource(source: string): AuditEntry | undefined {
    return this.db
      .prepare(
        `SELECT id, at, actor, repo, target, command, args, result, delivery_id AS deliveryId, source FROM audit
         WHERE source = ? ORDER BY id DESC LIMIT 1`,
      )
      .get(source) as AuditEntry | undefined;
  }

  list(filter: { repo?: string; limit?: number; offset?: number } = {}): AuditEntry[] {
    const rows = this.db
      .prepare(
        `SELECT id, at, actor, repo, target, command, args, result, delivery_id AS deliveryId, source FROM audit
         ${filter.repo ? "WHERE repo = ?" : ""} ORDER BY at DESC, id DESC LIMIT ? OFFSET ?`,
      )
      .all(
        ...(filter.repo ? [filter.repo] : []),
        filter.limit ?? 100,
        filter.offset ?? 0,
      ) as AuditEntry[];
    return rows;
  }
}

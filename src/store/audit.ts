import type { Db } from "./db.js";
import type { SqlQuery } from "./sql-query.js";

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

/** An entry as `write` takes it: `at` defaults to now, `source` to none. */
export type AuditWrite = Omit<AuditEntry, "id" | "at" | "source"> & {
  at?: number;
  source?: string | null;
};

/** Appends an entry; returns its id. */
export function writeAuditQuery(e: AuditWrite): SqlQuery {
  return {
    sql: "INSERT INTO audit (at, actor, repo, target, command, args, result, delivery_id, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    params: [
      e.at ?? Date.now(),
      e.actor,
      e.repo,
      e.target,
      e.command,
      e.args,
      e.result,
      e.deliveryId,
      e.source ?? null,
    ],
  };
}

export class AuditStore {
  constructor(private readonly db: Db) {}

  write(e: AuditWrite): number {
    const q = writeAuditQuery(e);
    return (this.db.prepare(q.sql).get(...q.params) as { id: number }).id;
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

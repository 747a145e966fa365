import type { Exec } from "./pg-exec.js";
import type { Async } from "../contract.js";
import type { AuditEntry, AuditStore, AuditWrite } from "../audit.js";
import { writeAuditQuery } from "../audit.js";

const COLS =
  "id, at, actor, repo, target, command, args, result, delivery_id AS deliveryId, source";

export class PgAuditStore implements Async<AuditStore> {
  constructor(private readonly x: Exec) {}

  async write(e: AuditWrite): Promise<number> {
    const q = writeAuditQuery(e);
    return (await this.x.get<{ id: number }>(q.sql, q.params))!.id;
  }

  async bySource(source: string): Promise<AuditEntry | undefined> {
    return this.x.get<AuditEntry>(
      `SELECT ${COLS} FROM audit WHERE source = ? ORDER BY id DESC LIMIT 1`,
      [source],
    );
  }

  async list(
    filter: { repo?: string; limit?: number; offset?: number } = {},
  ): Promise<AuditEntry[]> {
    return this.x.all<AuditEntry>(
      `SELECT ${COLS} FROM audit ${filter.repo ? "WHERE repo = ?" : ""} ORDER BY at DESC, id DESC LIMIT ? OFFSET ?`,
      [...(filter.repo ? [filter.repo] : []), filter.limit ?? 100, filter.offset ?? 0],
    );
  }
}

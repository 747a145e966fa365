import type { Exec } from "./pg-exec.js";
import type { Async } from "../contract.js";
import type { AuditEntry, AuditStore } from "../audit.js";

const COLS =
  "id, at, actor, repo, target, command, args, result, delivery_id AS deliveryId, source";

export class PgAuditStore implements Async<AuditStore> {
  constructor(private readonly x: Exec) {}

  async write(
    e: Omit<AuditEntry, "id" | "at" | "source"> & { at?: number; source?: string | null },
  ): Promise<number> {
    const r = await this.x.get<{ id: number }>(
      "INSERT INTO audit (at, actor, repo, target, command, args, result, delivery_id, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
      [
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
    );
    return r!.id;
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

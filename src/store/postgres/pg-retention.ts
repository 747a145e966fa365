import type { Exec } from "./pg-exec.js";
import type { Async } from "../contract.js";
import type { RetentionPolicy, RetentionStore, RetentionTable } from "../retention.js";
import { retentionCutoffs } from "../retention.js";

const SELECT: Record<RetentionTable, string> = {
  runs: "SELECT id FROM runs WHERE started_at < ? AND finished_at IS NOT NULL LIMIT ?",
  tasks:
    "SELECT id FROM tasks WHERE status IN ('done', 'failed', 'cancelled') AND updated_at < ? LIMIT ?",
  batches: "SELECT id FROM batches WHERE started_at < ? AND status != 'running' LIMIT ?",
  deliveries: "SELECT id FROM deliveries WHERE received_at < ? LIMIT ?",
  audit: "SELECT id FROM audit WHERE at < ? LIMIT ?",
};

/**
 * Retention on PostgreSQL: the same small steps by the same indexes. Space is given back by
 * PostgreSQL's autovacuum, so the SQLite page-level methods are no-ops here (freePages 0,
 * autoVacuum reports 2 "incremental", as the file's setting would).
 */
export class PgRetentionStore implements Async<RetentionStore> {
  constructor(private readonly x: Exec) {}

  async cutoffs(policy: RetentionPolicy, now: number): Promise<Record<RetentionTable, number>> {
    return retentionCutoffs(policy, now);
  }

  async step(table: RetentionTable, before: number, limit: number): Promise<number> {
    return this.x.tx(async (x) => {
      if (table === "batches") {
        const ids = (await x.all<{ id: number }>(SELECT.batches, [before, limit])).map((r) => r.id);
        if (!ids.length) return 0;
        await x.run("DELETE FROM batch_tasks WHERE batch_id = ANY(?::bigint[])", [ids]);
        return x.run("DELETE FROM batches WHERE id = ANY(?::bigint[])", [ids]);
      }
      return x.run(`DELETE FROM ${table} WHERE id IN (${SELECT[table]})`, [before, limit]);
    });
  }

  async pending(policy: RetentionPolicy, now: number): Promise<Record<RetentionTable, number>> {
    const c = await this.cutoffs(policy, now);
    const n = async (sql: string, at: number) =>
      (await this.x.get<{ n: number }>(sql, [at]))?.n ?? 0;
    return {
      runs: await n(
        "SELECT COUNT(*) AS n FROM runs WHERE started_at < ? AND finished_at IS NOT NULL",
        c.runs,
      ),
      tasks: await n(
        "SELECT COUNT(*) AS n FROM tasks WHERE status IN ('done', 'failed', 'cancelled') AND updated_at < ?",
        c.tasks,
      ),
      batches: await n(
        "SELECT COUNT(*) AS n FROM batches WHERE started_at < ? AND status != 'running'",
        c.batches,
      ),
      deliveries: await n(
        "SELECT COUNT(*) AS n FROM deliveries WHERE received_at < ?",
        c.deliveries,
      ),
      audit: await n("SELECT COUNT(*) AS n FROM audit WHERE at < ?", c.audit),
    };
  }

  async explain(): Promise<Record<RetentionTable, string[]>> {
    const out = {} as Record<RetentionTable, string[]>;
    for (const t of Object.keys(SELECT) as RetentionTable[]) {
      out[t] = (await this.x.all<{ "QUERY PLAN": string }>(`EXPLAIN ${SELECT[t]}`, [0, 1])).map(
        (r) => r["QUERY PLAN"],
      );
    }
    return out;
  }

  async freePages(): Promise<number> {
    return 0;
  }

  async setAutoCheckpoint(_pages: number): Promise<void> {}

  async autoVacuum(): Promise<number> {
    return 2;
  }

  async vacuumStep(_pages: number): Promise<void> {}
}

import type { Db } from "./db.js";

/** How long history is kept (days). 0 for `days` turns compaction off. */
export interface RetentionPolicy {
  /** runs, finished tasks, batches (and their batch_tasks), deliveries: BG_RETENTION_DAYS. */
  days: number;
  /** audit entries: BG_AUDIT_RETENTION_DAYS. */
  auditDays: number;
}

export const DEFAULT_RETENTION: RetentionPolicy = { days: 90, auditDays: 365 };
/**
 * Deliveries are the webhook dedup ledger: GitHub lets a delivery be redelivered for 3 days, so
 * they are never compacted younger than this, whatever BG_RETENTION_DAYS says.
 */
export const MIN_DELIVERY_DAYS = 7;
const DAY = 86_400_000;

export const RETENTION_TABLES = ["runs", "tasks", "batches", "deliveries", "audit"] as const;
export type RetentionTable = (typeof RETENTION_TABLES)[number];

/** The time before which each table's rows go, under `policy` at `now`. */
export function retentionCutoffs(
  policy: RetentionPolicy,
  now: number,
): Record<RetentionTable, number> {
  const main = now - policy.days * DAY;
  return {
    runs: main,
    tasks: main,
    batches: main,
    deliveries: now - Math.max(policy.days, MIN_DELIVERY_DAYS) * DAY,
    audit: now - policy.auditDays * DAY,
  };
}

/**
 * One small step of compaction per call, each in its own short transaction, served by an index
 * on the time column (migration 005), so a step costs the same with 1,000 or 1,000,000 rows:
 *  - runs started before the cut-off and finished;
 *  - tasks done, failed or cancelled before it (pending and running tasks are never touched);
 *  - batches started before it and no longer running, with their batch_tasks rows;
 *  - deliveries received before max(days, MIN_DELIVERY_DAYS);
 *  - audit entries older than auditDays.
 */
export class RetentionStore {
  constructor(private readonly db: Db) {}

  cutoffs(policy: RetentionPolicy, now: number): Record<RetentionTable, number> {
    return retentionCutoffs(policy, now);
  }

  /** Deletes at most `limit` rows of `table` older than `before`, in one transaction; returns how many. */
  step(table: RetentionTable, before: number, limit: number): number {
    return this.db.transaction(() => {
      switch (table) {
        case "runs":
          return this.db
            .prepare(
              `DELETE FROM runs WHERE id IN (SELECT id FROM runs WHERE started_at < ?
                 AND finished_at IS NOT NULL LIMIT ?)`,
            )
            .run(before, limit).changes;
        case "tasks":
          return this.db
            .prepare(
              `DELETE FROM tasks WHERE id IN (SELECT id FROM tasks INDEXED BY tasks_finished_updated
                 WHERE status IN ('done', 'failed', 'cancelled') AND updated_at < ? LIMIT ?)`,
            )
            .run(before, limit).changes;
        case "batches": {
          const ids = (
            this.db
              .prepare(
                `SELECT id FROM batches INDEXED BY batches_started WHERE started_at < ?
                   AND status != 'running' LIMIT ?`,
              )
              .all(before, limit) as { id: number }[]
          ).map((r) => r.id);
          if (!ids.length) return 0;
          const list = JSON.stringify(ids);
          this.db
            .prepare("DELETE FROM batch_tasks WHERE batch_id IN (SELECT value FROM json_each(?))")
            .run(list);
          return this.db
            .prepare("DELETE FROM batches WHERE id IN (SELECT value FROM json_each(?))")
            .run(list).changes;
        }
        case "deliveries":
          return this.db
            .prepare(
              `DELETE FROM deliveries WHERE rowid IN (SELECT rowid FROM deliveries
                 WHERE received_at < ? LIMIT ?)`,
            )
            .run(before, limit).changes;
        case "audit":
          return this.db
            .prepare("DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE at < ? LIMIT ?)")
            .run(before, limit).changes;
      }
    })();
  }

  /** Rows a compaction would remove now, per table (the dashboard, tests). */
  pending(policy: RetentionPolicy, now: number): Record<RetentionTable, number> {
    const c = this.cutoffs(policy, now);
    const n = (sql: string, at: number) => (this.db.prepare(sql).get(at) as { n: number }).n;
    return {
      runs: n(
        "SELECT COUNT(*) AS n FROM runs WHERE started_at < ? AND finished_at IS NOT NULL",
        c.runs,
      ),
      tasks: n(
        "SELECT COUNT(*) AS n FROM tasks WHERE status IN ('done', 'failed', 'cancelled') AND updated_at < ?",
        c.tasks,
      ),
      batches: n(
        "SELECT COUNT(*) AS n FROM batches WHERE started_at < ? AND status != 'running'",
        c.batches,
      ),
      deliveries: n("SELECT COUNT(*) AS n FROM deliveries WHERE received_at < ?", c.deliveries),
      audit: n("SELECT COUNT(*) AS n FROM audit WHERE at < ?", c.audit),
    };
  }

  /** SQLite's plans for each step (tests assert an index serves them, never a full scan). */
  explain(): Record<RetentionTable, string[]> {
    const plan = (sql: string, ...p: unknown[]) =>
      (this.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...p) as { detail: string }[]).map(
        (r) => r.detail,
      );
    return {
      runs: plan(
        "SELECT id FROM runs WHERE started_at < ? AND finished_at IS NOT NULL LIMIT ?",
        0,
        1,
      ),
      tasks: plan(
        "SELECT id FROM tasks INDEXED BY tasks_finished_updated WHERE status IN ('done', 'failed', 'cancelled') AND updated_at < ? LIMIT ?",
        0,
        1,
      ),
      batches: plan(
        "SELECT id FROM batches INDEXED BY batches_started WHERE started_at < ? AND status != 'running' LIMIT ?",
        0,
        1,
      ),
      deliveries: plan("SELECT rowid FROM deliveries WHERE received_at < ? LIMIT ?", 0, 1),
      audit: plan("SELECT id FROM audit WHERE at < ? LIMIT ?", 0, 1),
    };
  }

  /** Pages on the free list (reclaimable by incremental_vacuum). */
  freePages(): number {
    return (this.db.prepare("PRAGMA freelist_count").get() as { freelist_count: number })
      .freelist_count;
  }

  /** This connection's WAL auto-checkpoint, in pages (SQLite's default: 1000; 0: off). */
  setAutoCheckpoint(pages: number): void {
    this.db.exec(`PRAGMA wal_autocheckpoint = ${Math.max(0, Math.trunc(pages))}`);
  }

  /** 0 none, 1 full, 2 incremental. */
  autoVacuum(): number {
    return (this.db.prepare("PRAGMA auto_vacuum").get() as { auto_vacuum: number }).auto_vacuum;
  }

  /** Returns up to `pages` free pages to the file system (auto_vacuum=INCREMENTAL only). */
  vacuumStep(pages: number): void {
    // exec, not a statement's run(): each step of the pragma frees one page.
    this.db.exec(`PRAGMA incremental_vacuum(${Math.max(1, Math.trunc(pages))})`);
  }
}

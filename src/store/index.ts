import { ActivityStore } from "./activity.js";
import { AnalysisStore } from "./analyses.js";
import { AuditStore } from "./audit.js";
import { AutomergeStateStore } from "./automerge-state.js";
import { BatchStore } from "./batches.js";
import type { Db, OpenOptions } from "./db.js";
import { openSqlite } from "./db.js";
import { DeliveryStore } from "./deliveries.js";
import { migrate } from "./migrations.js";
import { ProposalStore } from "./proposals.js";
import { RepositoryStore } from "./repositories.js";
import { RetentionStore } from "./retention.js";
import { RunStore } from "./runs.js";
import { ScheduleStore } from "./schedules.js";
import { SessionRevocationStore } from "./session-revocations.js";
import { SpendStore } from "./spend.js";
import { StatsStore } from "./stats.js";
import { TaskStore } from "./tasks.js";

/** The typed store every core function takes. All SQL lives in src/store. */
export interface Store {
  db: Db;
  deliveries: DeliveryStore;
  repos: RepositoryStore;
  tasks: TaskStore;
  activity: ActivityStore;
  audit: AuditStore;
  batches: BatchStore;
  spend: SpendStore;
  runs: RunStore;
  analyses: AnalysisStore;
  proposals: ProposalStore;
  schedules: ScheduleStore;
  automerge: AutomergeStateStore;
  /** Compaction of old history (BG_RETENTION_DAYS). */
  retention: RetentionStore;
  /** Read-only aggregates for the dashboard, the admin API and metrics. */
  stats: StatsStore;
  /** Signed-out dashboard sessions (GitHub sign-in). */
  sessions: SessionRevocationStore;
  /** Runs `fn` in one transaction. */
  tx<R>(fn: () => R): R;
  close(): void;
}

/** Wraps an open, migrated database. */
export function createStore(db: Db): Store {
  migrate(db);
  return {
    db,
    deliveries: new DeliveryStore(db),
    repos: new RepositoryStore(db),
    tasks: new TaskStore(db),
    activity: new ActivityStore(db),
    audit: new AuditStore(db),
    batches: new BatchStore(db),
    spend: new SpendStore(db),
    runs: new RunStore(db),
    analyses: new AnalysisStore(db),
    proposals: new ProposalStore(db),
    schedules: new ScheduleStore(db),
    automerge: new AutomergeStateStore(db),
    retention: new RetentionStore(db),
    stats: new StatsStore(db),
    sessions: new SessionRevocationStore(db),
    tx: (fn) => db.transaction(fn)(),
    close: () => db.close(),
  };
}

/** Opens (creating the folder if needed) and migrates the SQLite store. */
export async function openStore(options: OpenOptions): Promise<Store> {
  if (options.path !== ":memory:") {
    const { mkdirSync } = await import("node:fs");
    const { dirname } = await import("node:path");
    mkdirSync(dirname(options.path), { recursive: true });
  }
  return createStore(await openSqlite(options));
}

export type { Db } from "./db.js";

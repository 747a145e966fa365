/**
 * The SQLite store behind the async contract (issue #16): the synchronous part classes wrapped
 * by src/store/async-adapter.ts. The rest of the code base still takes the synchronous `Store`
 * of ./index.ts until its call sites are converted.
 */
import { ActivityStore } from "./activity.js";
import { AnalysisStore } from "./analyses.js";
import { asyncParts } from "./async-adapter.js";
import type { TxGate } from "./async-adapter.js";
import { AuditStore } from "./audit.js";
import { AutomergeStateStore } from "./automerge-state.js";
import { BatchStore } from "./batches.js";
import type { IntakeCommitOptions, Store } from "./contract.js";
import type { Db, OpenOptions } from "./db.js";
import { openSqlite } from "./db.js";
import { DeliveryStore } from "./deliveries.js";
import { GroupCommit } from "./group-commit.js";
import { migrate } from "./migrations.js";
import { PaceStore } from "./pace.js";
import { ProposalStore } from "./proposals.js";
import { ReportDeliveryStore } from "./report-deliveries.js";
import { RepositoryStore } from "./repositories.js";
import { RetentionStore } from "./retention.js";
import { RunStore } from "./runs.js";
import { ScheduleStore } from "./schedules.js";
import { SessionRevocationStore } from "./session-revocations.js";
import { SpendStore } from "./spend.js";
import { StatsStore } from "./stats.js";
import { TaskStore } from "./tasks.js";

/**
 * The SQLite store: the async contract over the synchronous part classes (src/store/async-adapter.ts),
 * plus what only SQLite has. `db` is the raw database for SQLite-only tools and tests (PRAGMAs,
 * fault injection); core code takes the generic `Store`.
 */
export interface SqliteStore extends Store {
  readonly dialect: "sqlite";
  readonly db: Db;
  /** The transaction mutex (the group commit never commits while a transaction is open). */
  readonly gate: TxGate;
  schemaVersion(): Promise<number>;
  groupCommit(opts?: IntakeCommitOptions): GroupCommit;
}

/** Wraps an open database (migrated here) in the async contract. */
export function createAsyncStore(db: Db): SqliteStore {
  migrate(db);
  const sync = {
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
    reports: new ReportDeliveryStore(db),
    retention: new RetentionStore(db),
    stats: new StatsStore(db),
    sessions: new SessionRevocationStore(db),
    pace: new PaceStore(db),
  };
  const { parts, tx, gate } = asyncParts(db, sync);
  let closed: Promise<void> | undefined;
  const store: SqliteStore = {
    ...parts,
    dialect: "sqlite",
    db,
    gate,
    tx,
    schemaVersion: () => Promise.resolve(db.userVersion()),
    groupCommit: (opts = {}) =>
      new GroupCommit(store, { ...opts, ...(db.syncWal ? { sync: () => db.syncWal!() } : {}) }),
    // Waits for an open transaction, so a shutdown never cuts one in half.
    close: () =>
      (closed ??= gate.acquire().then(() => {
        db.close();
        gate.release();
      })),
  };
  return store;
}

/** Opens (creating the folder if needed) and migrates a SQLite store behind the async contract. */
export async function openAsyncStore(options: OpenOptions): Promise<SqliteStore> {
  if (options.path !== ":memory:") {
    const { mkdirSync } = await import("node:fs");
    const { dirname } = await import("node:path");
    mkdirSync(dirname(options.path), { recursive: true });
  }
  return createAsyncStore(await openSqlite(options));
}

/** Opens and migrates a SQLite file: the schema version before and after (`bg-agent migrate`). */
export async function migrateSqlite(
  options: OpenOptions,
): Promise<{ before: number; version: number }> {
  if (options.path !== ":memory:") {
    const { mkdirSync } = await import("node:fs");
    const { dirname } = await import("node:path");
    mkdirSync(dirname(options.path), { recursive: true });
  }
  const db = await openSqlite(options);
  const before = db.userVersion();
  const store = createAsyncStore(db);
  const version = await store.schemaVersion();
  await store.close();
  return { before, version };
}

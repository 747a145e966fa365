/**
 * The store contract (draft for the async seam, issue #16): what every store implementation
 * (SQLite through better-sqlite3 or sql.js, PostgreSQL through pg) offers the rest of bg-agent.
 * Every method of every part returns a promise; the part classes in this folder (TaskStore, …)
 * define the method set and its meaning, their SQLite bodies are the reference behaviour.
 */
import type { ActivityStore } from "./activity.js";
import type { AnalysisStore } from "./analyses.js";
import type { AuditStore } from "./audit.js";
import type { AutomergeStateStore } from "./automerge-state.js";
import type { BatchStore } from "./batches.js";
import type { DeliveryStore } from "./deliveries.js";
import type { PaceStore } from "./pace.js";
import type { ProposalStore } from "./proposals.js";
import type { ReportDeliveryStore } from "./report-deliveries.js";
import type { RepositoryStore } from "./repositories.js";
import type { RetentionStore } from "./retention.js";
import type { RunStore } from "./runs.js";
import type { ScheduleStore } from "./schedules.js";
import type { SessionRevocationStore } from "./session-revocations.js";
import type { SpendStore } from "./spend.js";
import type { StatsStore } from "./stats.js";
import type { TaskStore } from "./tasks.js";
import type { Coordination } from "./coordination.js";

/** The asynchronous form of a store part: each public method returns a promise of its result. */
export type Async<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => infer R
    ? (...args: A) => Promise<Awaited<R>>
    : never;
};

/** The parts of a store, each a table family. The same shape inside and outside a transaction. */
export interface StoreParts {
  deliveries: Async<DeliveryStore>;
  repos: Async<RepositoryStore>;
  tasks: Async<TaskStore>;
  activity: Async<ActivityStore>;
  audit: Async<AuditStore>;
  batches: Async<BatchStore>;
  spend: Async<SpendStore>;
  runs: Async<RunStore>;
  analyses: Async<AnalysisStore>;
  proposals: Async<ProposalStore>;
  schedules: Async<ScheduleStore>;
  automerge: Async<AutomergeStateStore>;
  reports: Async<ReportDeliveryStore>;
  retention: Async<RetentionStore>;
  stats: Async<StatsStore>;
  sessions: Async<SessionRevocationStore>;
  /** Paces shared by every process on the database (GitHub writes, LLM rate limits, sweeps). */
  pace: Async<PaceStore>;
}

export type StoreDialect = "sqlite" | "postgres";

/**
 * A transaction's view of the store: the parts (their calls run inside the transaction) and a
 * nested `tx`, which is a savepoint (its failure undoes only its own writes).
 */
export interface TxStore extends StoreParts {
  tx<R>(fn: (t: TxStore) => Promise<R>): Promise<R>;
}

/** What the intake's group commit offers the webhook endpoint (src/store/group-commit.ts). */
export interface IntakeCommit {
  /** A delivery starts: its writes from now on join the open group. */
  join(): void;
  /** A delivery that will not commit (it failed) stops holding the group open. */
  leave(): void;
  /** A delivery is done writing: resolves once its writes are durably committed. */
  commit(): Promise<void>;
  /** Commits whatever is open (shutdown). */
  close(): void;
  /** Commits so far (a metric). */
  commits: number;
}

export interface IntakeCommitOptions {
  /** How long a finished delivery may wait for others to join its commit (0: end of the event-loop turn). */
  maxWaitMs?: number;
}

/** The store every core function takes: the parts, transactions, and the implementation's own capabilities. */
export interface Store extends StoreParts {
  readonly dialect: StoreDialect;
  /**
   * Runs `fn` in one transaction: committed when its promise resolves, rolled back when it
   * rejects. Only `t` is inside the transaction: calls on the store itself wait until it ends.
   */
  tx<R>(fn: (t: TxStore) => Promise<R>): Promise<R>;
  close(): Promise<void>;
  /** The schema version (migrations applied). */
  schemaVersion?(): Promise<number>;
  /**
   * A trivial query: resolves once the database answers (`GET /readyz`). A store without it is
   * ready whenever it is open (SQLite: a file of this process).
   */
  ping?(): Promise<void>;
  /**
   * A group commit for webhook intake, where commits are costly enough to share (SQLite: one
   * fsync for many deliveries). Without it each delivery's transaction commits on its own.
   */
  groupCommit?(opts?: IntakeCommitOptions): IntakeCommit;
  /**
   * Coordination with the other processes on this database (PostgreSQL: advisory locks and
   * LISTEN/NOTIFY on connections of its own, closed by the caller). Absent: the store serves one
   * process, and `InProcessCoordination` is exact.
   */
  coordination?(opts?: { lockConnections?: number }): Coordination;
}

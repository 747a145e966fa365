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
}

export type StoreDialect = "sqlite" | "postgres";

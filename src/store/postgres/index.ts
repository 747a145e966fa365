/**
 * The PostgreSQL store (issue #16): the same parts and semantics as the SQLite store, over a
 * `pg` Pool. `DATABASE_URL=postgres://…` selects it (src/store/open.ts).
 */
import pg from "pg";
import type { Pool, PoolConfig } from "pg";
import type { Store, StoreParts, TxStore } from "../contract.js";
import { Exec } from "./pg-exec.js";
import { typeParser } from "./pg-lean-query.js";
import { migratePostgres, VERSION_TABLE } from "./pg-migrate.js";
import { PgActivityStore } from "./pg-activity.js";
import { PgAnalysisStore } from "./pg-analyses.js";
import { PgAuditStore } from "./pg-audit.js";
import { PgAutomergeStateStore } from "./pg-automerge-state.js";
import { PgBatchStore } from "./pg-batches.js";
import { PgDeliveryStore } from "./pg-deliveries.js";
import { PgProposalStore } from "./pg-proposals.js";
import { PgRepositoryStore } from "./pg-repositories.js";
import { PgRetentionStore } from "./pg-retention.js";
import { PgRunStore } from "./pg-runs.js";
import { PgScheduleStore } from "./pg-schedules.js";
import { PgSpendStore } from "./pg-spend.js";
import { PgReportDeliveryStore } from "./pg-report-deliveries.js";
import { PgSessionRevocationStore } from "./pg-session-revocations.js";
import { PgStatsStore } from "./pg-stats.js";
import { PgTaskStore } from "./pg-tasks.js";
import { PgPaceStore } from "./pg-pace.js";
import { PgCoordination } from "./pg-coordination.js";
import type { Coordination } from "../coordination.js";

export { Exec } from "./pg-exec.js";

/** The PostgreSQL parts, with the few extras only this store has. */
export interface PgStoreParts extends StoreParts {
  tasks: PgTaskStore;
}

/** A transaction's view: its parts run on the transaction's connection; a nested `tx` is a savepoint. */
export interface PgTxStore extends TxStore {
  tasks: PgTaskStore;
  tx<R>(fn: (t: PgTxStore) => Promise<R>): Promise<R>;
}

/** The PostgreSQL store: the async `Store` over a pool, plus its schema and pool. */
export interface PgStore extends Store {
  tasks: PgTaskStore;
  readonly dialect: "postgres";
  /** The schema the tables live in. */
  schema: string;
  pool: Pool;
  /** Runs `fn` in one transaction on one connection; nested calls are savepoints. */
  tx<R>(fn: (t: PgTxStore) => Promise<R>): Promise<R>;
  schemaVersion(): Promise<number>;
  ping(): Promise<void>;
  close(): Promise<void>;
  /** Advisory locks and LISTEN/NOTIFY for replicas on this schema, on connections of their own (close it). */
  coordination(opts?: { lockConnections?: number }): Coordination;
}

export interface PostgresOptions {
  /** `postgres://user:password@host:5432/db` (DATABASE_URL). */
  url: string;
  /** Default `public`. Lowercase letters, digits and `_`. */
  schema?: string;
  /**
   * Connections in the pool, default 20 (BG_DB_POOL_SIZE). Each delivery being handled holds one
   * for its whole transaction, including while a handler reads a config file from GitHub; a
   * delivery waiting for one costs more than an idle connection (bench/intake.ts: 16 deliveries in
   * flight ran 3–10 % slower on 10 connections than on 16 or 32).
   */
  poolSize?: number;
  /** How long getting a connection may take before the store counts as unavailable (default 10 s). */
  connectTimeoutMs?: number;
  /**
   * PostgreSQL's `idle_in_transaction_session_timeout` on every pool connection, in ms (default
   * 60 s, BG_DB_IDLE_TX_TIMEOUT_MS; 0 turns it off): the server ends a transaction that waited
   * this long between two statements (a handler stuck on GitHub) and its connection, so its
   * row locks are not held on. The store then throws an IdleTransactionTimeoutError.
   */
  idleTxTimeoutMs?: number;
  /**
   * A pooler in transaction mode (PgBouncer's `pool_mode = transaction`; BG_DB_POOLER=transaction)
   * is between bg-agent and PostgreSQL: a transaction's first statement is then not prepared with
   * SQL's PREPARE, which such a pooler does not carry from one transaction to the next.
   */
  transactionPooler?: boolean;
}

export const DEFAULT_POOL_SIZE = 20;

/** The default idle-in-transaction timeout of pool connections: 60 s. */
export const DEFAULT_IDLE_TX_TIMEOUT_MS = 60_000;

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** BIGINT (timestamps, ids, counts) and NUMERIC (SUMs of BIGINT) as JS numbers, for this pool only. */
const types = { getTypeParser: typeParser as typeof pg.types.getTypeParser };

export function checkSchemaName(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) {
    throw new Error(
      `PostgreSQL schema "${schema}" is not a plain name: use lowercase letters, digits and _ (at most 63)`,
    );
  }
  return schema;
}

/**
 * Pool settings every bg-agent connection shares: its schema first on the search path,
 * synchronous commits, an idle-in-transaction timeout.
 */
export function poolConfig(o: PostgresOptions): PoolConfig {
  const schema = checkSchemaName(o.schema ?? "public");
  return {
    connectionString: o.url,
    max: o.poolSize ?? DEFAULT_POOL_SIZE,
    types,
    options: `-c search_path=${schema},public -c synchronous_commit=on`,
    application_name: "bg-agent",
    connectionTimeoutMillis: o.connectTimeoutMs ?? 10_000,
    idle_in_transaction_session_timeout: o.idleTxTimeoutMs ?? DEFAULT_IDLE_TX_TIMEOUT_MS,
    // A connection a restarted server or a dead network left half-open is noticed.
    keepAlive: true,
  };
}

function parts(x: Exec): PgStoreParts {
  return {
    deliveries: new PgDeliveryStore(x),
    repos: new PgRepositoryStore(x),
    tasks: new PgTaskStore(x),
    activity: new PgActivityStore(x),
    audit: new PgAuditStore(x),
    batches: new PgBatchStore(x),
    spend: new PgSpendStore(x),
    runs: new PgRunStore(x),
    analyses: new PgAnalysisStore(x),
    proposals: new PgProposalStore(x),
    schedules: new PgScheduleStore(x),
    automerge: new PgAutomergeStateStore(x),
    retention: new PgRetentionStore(x),
    stats: new PgStatsStore(x),
    sessions: new PgSessionRevocationStore(x),
    reports: new PgReportDeliveryStore(x),
    pace: new PgPaceStore(x),
  };
}

/** Opens the pool, migrates the schema (once across replicas) and returns the store. */
export async function openPostgresStore(o: PostgresOptions): Promise<PgStore> {
  const schema = checkSchemaName(o.schema ?? "public");
  const pool = new pg.Pool(poolConfig(o));
  // An idle connection the server dropped (a restart) must not crash the process; the next query reconnects.
  pool.on("error", () => {});
  try {
    await migratePostgres(pool, schema);
  } catch (e) {
    await pool.end().catch(() => {});
    throw e;
  }
  const root = new Exec(pool, pool, null, !o.transactionPooler);
  let closed: Promise<void> | undefined;
  return {
    ...parts(root),
    dialect: "postgres",
    schema,
    pool,
    tx: (fn) => root.tx((x) => fn(txHandle(x))),
    schemaVersion: async () =>
      (
        await root.get<{ version: number | null }>(
          `SELECT max(version) AS version FROM ${VERSION_TABLE}`,
        )
      )?.version ?? 0,
    ping: async () => {
      await root.get("SELECT 1 AS one");
    },
    close: () => (closed ??= pool.end()),
    coordination: (c = {}) =>
      new PgCoordination({
        url: o.url,
        schema,
        ...(c.lockConnections ? { lockPoolSize: c.lockConnections } : {}),
      }),
  };
}

/** The handle of a transaction (or savepoint) on `x`. */
function txHandle(x: Exec): PgTxStore {
  return { ...parts(x), tx: (fn) => x.tx((y) => fn(txHandle(y))) };
}

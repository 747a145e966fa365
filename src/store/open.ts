/**
 * Which store the app and the CLI open, from the environment: `DATABASE_URL=postgres://…` selects
 * PostgreSQL; otherwise SQLite at `BG_DB_PATH` (default ./data/bg-agent.db), as before. A
 * PostgreSQL that cannot be reached or refuses is a StoreOpenError naming the host and database
 * (never the password): the caller prints it and exits non-zero. There is no SQLite fallback.
 */
import { existsSync } from "node:fs";
import type { Store } from "./index.js";
import { migrateSqlite, openStore } from "./index.js";
import type { OpenOptions } from "./db.js";
import { DatabaseTooNewError } from "./migrations.js";
import { reasonOf } from "./unavailable.js";
import { describeDatabaseUrl, storeEnvSchema } from "./store-env.js";
import type { StoreEnv } from "./store-env.js";

export { describeDatabaseUrl } from "./store-env.js";
export type { StoreEnv } from "./store-env.js";

export class StoreOpenError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StoreOpenError";
  }
}

/** The store's settings from an environment; a bad value is a StoreOpenError naming the variable. */
export function readStoreEnv(env: Readonly<Record<string, unknown>>): StoreEnv {
  const cleaned = Object.fromEntries(
    Object.entries(env).filter(
      ([k, v]) => k in storeEnvSchema.shape && v !== undefined && v !== "",
    ),
  );
  const r = storeEnvSchema.safeParse(cleaned);
  if (!r.success) throw new StoreOpenError(r.error.issues.map((i) => i.message).join("; "));
  return r.data;
}

/** Where the store is, for messages: the SQLite path, or the PostgreSQL URL without credentials (and the schema). */
export function describeStore(env: StoreEnv): string {
  if (!env.DATABASE_URL) return env.BG_DB_PATH;
  return `${describeDatabaseUrl(env.DATABASE_URL)}${env.BG_DB_SCHEMA ? ` (schema ${env.BG_DB_SCHEMA})` : ""}`;
}

export interface OpenFromEnvOptions {
  /** SQLite's synchronous setting (the app: NORMAL, its group commit fsyncs the WAL). */
  synchronous?: OpenOptions["synchronous"];
}

/** The store the environment names, opened and migrated. */
export async function openStoreFromEnv(
  env: Readonly<Record<string, unknown>> = process.env,
  o: OpenFromEnvOptions = {},
): Promise<Store> {
  const e = readStoreEnv(env);
  if (e.DATABASE_URL) {
    const url = e.DATABASE_URL;
    const { openPostgresStore } = await import("./postgres/index.js");
    return pgStep(url, e, () =>
      openPostgresStore({
        url,
        ...(e.BG_DB_SCHEMA ? { schema: e.BG_DB_SCHEMA } : {}),
        ...(e.BG_DB_POOL_SIZE ? { poolSize: e.BG_DB_POOL_SIZE } : {}),
        ...(e.BG_DB_IDLE_TX_TIMEOUT_MS !== undefined
          ? { idleTxTimeoutMs: e.BG_DB_IDLE_TX_TIMEOUT_MS }
          : {}),
        ...(e.BG_DB_POOLER === "transaction" ? { transactionPooler: true } : {}),
      }),
    );
  }
  return openStore({
    path: e.BG_DB_PATH,
    ...(o.synchronous ? { synchronous: o.synchronous } : {}),
  });
}

/** `bg-agent migrate`: where, whether the database was new, and the schema version before and after. */
export interface MigrationReport {
  where: string;
  created: boolean;
  before: number;
  version: number;
}

/** Migrates the store the environment names (PostgreSQL: once across replicas, under a lock). */
export async function migrateStoreFromEnv(
  env: Readonly<Record<string, unknown>> = process.env,
): Promise<MigrationReport> {
  const e = readStoreEnv(env);
  const where = describeStore(e);
  if (e.DATABASE_URL) {
    const url = e.DATABASE_URL;
    const pg = await import("pg");
    const { poolConfig, checkSchemaName } = await import("./postgres/index.js");
    const { migratePostgres } = await import("./postgres/pg-migrate.js");
    const schema = checkSchemaName(e.BG_DB_SCHEMA ?? "public");
    const pool = new pg.default.Pool({ ...poolConfig({ url, schema }), max: 1 });
    pool.on("error", () => {});
    try {
      const r = await pgStep(url, e, () => migratePostgres(pool, schema));
      return { where, created: r.before === 0, ...r };
    } finally {
      await pool.end().catch(() => {});
    }
  }
  const path = e.BG_DB_PATH;
  const existed = path !== ":memory:" && existsSync(path);
  const r = await migrateSqlite({ path });
  return { where, created: !existed, ...r };
}

/** Runs a PostgreSQL step of opening; its failure becomes a one-line StoreOpenError. */
async function pgStep<R>(url: string, e: StoreEnv, step: () => Promise<R>): Promise<R> {
  const where = describeStore(e);
  try {
    return await step();
  } catch (err) {
    if (err instanceof DatabaseTooNewError)
      throw new StoreOpenError(`the PostgreSQL store at ${where}: ${err.message}`, { cause: err });
    const reason = reasonOf(err).split(url).join(describeDatabaseUrl(url)).replace(/\s+/g, " ");
    throw new StoreOpenError(`cannot open the PostgreSQL store at ${where}: ${reason}`, {
      cause: err,
    });
  }
}

/**
 * PostgreSQL for tests: the local server (127.0.0.1:5432, database `test`, or TEST_DATABASE_URL),
 * a throwaway schema `bg_test_<random>` per store, dropped when the store closes. Without a server
 * the tests are skipped with a message, unless CI is set: there they fail loudly.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { openPostgresStore } from "../../src/store/postgres/index.js";
import type { PgStore } from "../../src/store/postgres/index.js";

export const TEST_DATABASE_URL =
  process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

let reachable: Promise<string | null> | undefined;

/** null when the server answers; otherwise why not. */
function probe(): Promise<string | null> {
  return (reachable ??= (async () => {
    const c = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 3000 });
    try {
      await c.connect();
      await c.query("SELECT 1");
      return null;
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    } finally {
      await c.end().catch(() => {});
    }
  })());
}

/**
 * True when PostgreSQL tests should run. In CI an unreachable server throws (the suite fails);
 * locally it prints why the tests are skipped.
 */
export async function postgresAvailable(): Promise<boolean> {
  const why = await probe();
  if (why === null) return true;
  const msg = `PostgreSQL at ${TEST_DATABASE_URL.replace(/\/\/[^@]*@/, "//")} is not reachable (${why})`;
  if (process.env.CI) throw new Error(`${msg}: CI needs it (start it, see .ci/run)`);
  console.warn(`${msg}: skipping the PostgreSQL store tests`);
  return false;
}

export const throwawaySchema = (): string => `bg_test_${randomBytes(6).toString("hex")}`;

/** Drops a schema the tests made. */
export async function dropSchema(schema: string): Promise<void> {
  const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await c.connect();
  try {
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await c.end();
  }
}

/**
 * Two stores on one throwaway schema, each with its own pool of 4 connections (as two replicas
 * have): `fn` runs with both, then both are closed and the schema dropped.
 */
export async function onTwoPools(
  fn: (a: PgStore, b: PgStore, schema: string) => Promise<void>,
): Promise<void> {
  const schema = throwawaySchema();
  const a = await openPostgresStore({ url: TEST_DATABASE_URL, schema, poolSize: 4 });
  const b = await openPostgresStore({ url: TEST_DATABASE_URL, schema, poolSize: 4 });
  try {
    await fn(a, b, schema);
  } finally {
    await a.close();
    await b.close();
    await dropSchema(schema);
  }
}

/** A migrated PostgreSQL store in its own schema; close() drops the schema. */
export async function throwawayPgStore(
  opts: { schema?: string; poolSize?: number; idleTxTimeoutMs?: number } = {},
): Promise<PgStore> {
  const schema = opts.schema ?? throwawaySchema();
  const store = await openPostgresStore({
    url: TEST_DATABASE_URL,
    schema,
    ...(opts.poolSize ? { poolSize: opts.poolSize } : {}),
    ...(opts.idleTxTimeoutMs !== undefined ? { idleTxTimeoutMs: opts.idleTxTimeoutMs } : {}),
  });
  const close = store.close;
  return {
    ...store,
    close: async () => {
      await close();
      await dropSchema(schema);
    },
  };
}

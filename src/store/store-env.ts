/**
 * The store's settings in the environment, checked with zod: DATABASE_URL (PostgreSQL),
 * BG_DB_SCHEMA, BG_DB_POOL_SIZE, BG_DB_IDLE_TX_TIMEOUT_MS, BG_DB_POOLER, else BG_DB_PATH
 * (SQLite). readEnv (src/env.ts) checks them with the app's other settings at start-up; the CLI
 * through src/store/open.ts.
 */
import { z } from "zod";

/** `postgres://host:port/db` without credentials, for messages. */
export function describeDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.hostname}${u.port ? `:${u.port}` : ""}${u.pathname || "/"}`;
  } catch {
    return "(an unparseable URL)";
  }
}

export const storeEnvShape = {
  BG_DB_PATH: z.string().min(1).default("./data/bg-agent.db"),
  DATABASE_URL: z
    .string()
    .trim()
    .superRefine((u, ctx) => {
      if (u !== "" && !/^postgres(ql)?:\/\//.test(u))
        ctx.addIssue({
          code: "custom",
          message: `DATABASE_URL must be a postgres:// or postgresql:// URL (got ${describeDatabaseUrl(u)}); unset it to use SQLite at BG_DB_PATH`,
        });
    })
    .optional(),
  BG_DB_SCHEMA: z
    .string()
    .regex(
      /^[a-z_][a-z0-9_]{0,62}$/,
      "BG_DB_SCHEMA must be a plain PostgreSQL schema name: lowercase letters, digits and _ (at most 63)",
    )
    .optional(),
  BG_DB_POOL_SIZE: z.coerce
    .number({ message: "BG_DB_POOL_SIZE must be a number of connections" })
    .int("BG_DB_POOL_SIZE must be a whole number of connections")
    .min(1, "BG_DB_POOL_SIZE must be at least 1")
    .max(1000, "BG_DB_POOL_SIZE must be at most 1000")
    .optional(),
  /**
   * PostgreSQL's idle_in_transaction_session_timeout on the pool's connections, in ms (default
   * 60000; 0 turns it off): how long a transaction may wait between statements, e.g. a delivery's
   * handler reading its config from GitHub, before the server ends it (src/store/postgres/index.ts).
   */
  BG_DB_IDLE_TX_TIMEOUT_MS: z.coerce
    .number({ message: "BG_DB_IDLE_TX_TIMEOUT_MS must be a number of milliseconds" })
    .int("BG_DB_IDLE_TX_TIMEOUT_MS must be a whole number of milliseconds")
    .refine(
      (ms) => ms === 0 || (ms >= 1000 && ms <= 86_400_000),
      "BG_DB_IDLE_TX_TIMEOUT_MS must be 0 (no timeout) or from 1000 to 86400000 milliseconds",
    )
    .optional(),
  /**
   * The connection pooler between bg-agent and PostgreSQL, if any: `transaction` for one in
   * transaction mode (PgBouncer's pool_mode = transaction), where session state does not outlive
   * a transaction; `session` (or unset) for a session-mode pooler or none.
   */
  BG_DB_POOLER: z
    .enum(["session", "transaction"], {
      message: "BG_DB_POOLER must be session or transaction (unset: no pooler)",
    })
    .optional(),
};

export const storeEnvSchema = z.object(storeEnvShape);
export type StoreEnv = z.infer<typeof storeEnvSchema>;

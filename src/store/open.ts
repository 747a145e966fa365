/**
 * Which store the app and the CLI open, from the environment: `DATABASE_URL=postgres://…` selects
 * PostgreSQL; otherwise SQLite at `BG_DB_PATH` (default ./data/bg-agent.db), as before. A
 * PostgreSQL that cannot be reached or refuses is a StoreOpenError naming the host and database
 * (never the password): the caller prints it and exits non-zero. There is no SQLite fallback.
 */
import type { Store } from "./index.js";
import { openStore } from "./index.js";
import type { PgStore } from "./postgres/index.js";
import { DatabaseTooNewError } from "./migrations.js";

export class StoreOpenError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StoreOpenError";
  }
}

export type OpenedStore =
  { dialect: "sqlite"; store: Store } | { dialect: "postgres"; store: PgStore };

/** `postgres://host:port/db` without credentials, for messages. */
export function describeDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.hostname}${u.port ? `:${u.port}` : ""}${u.pathname || "/"}`;
  } catch {
    return "(an unparseable URL)";
  }
}

export async function openStoreFromEnv(
  env: Record<string, string | undefined> = process.env,
): Promise<OpenedStore> {
  const url = env.DATABASE_URL?.trim();
  if (url) {
    if (!/^postgres(ql)?:\/\//.test(url)) {
      throw new StoreOpenError(
        `DATABASE_URL must be a postgres:// or postgresql:// URL (got ${describeDatabaseUrl(url)}); unset it to use SQLite at BG_DB_PATH`,
      );
    }
    const where = describeDatabaseUrl(url);
    const { openPostgresStore } = await import("./postgres/index.js");
    try {
      const store = await openPostgresStore({
        url,
        ...(env.BG_DB_SCHEMA ? { schema: env.BG_DB_SCHEMA } : {}),
        ...(env.BG_DB_POOL_SIZE ? { poolSize: Number(env.BG_DB_POOL_SIZE) } : {}),
      });
      return { dialect: "postgres", store };
    } catch (e) {
      if (e instanceof DatabaseTooNewError) throw new StoreOpenError(e.message, { cause: e });
      const reason = (e instanceof Error ? e.message : String(e)).split(url).join(where);
      throw new StoreOpenError(`cannot open the PostgreSQL store at ${where}: ${reason}`, {
        cause: e,
      });
    }
  }
  return {
    dialect: "sqlite",
    store: await openStore({ path: env.BG_DB_PATH || "./data/bg-agent.db" }),
  };
}

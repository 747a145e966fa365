/**
 * The database driver seam. The store is written against this small subset of
 * better-sqlite3's API so the same SQL runs on better-sqlite3 (the app, the CLI,
 * tests) and on a WebAssembly SQLite in the Action, where no native module may load.
 */
export interface RunResult {
  changes: number;
  lastInsertRowid: number | bigint;
}

export interface Statement {
  run(...params: unknown[]): RunResult;
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}

export interface Db {
  prepare(sql: string): Statement;
  exec(sql: string): void;
  /** Run `fn` in one transaction (BEGIN IMMEDIATE .. COMMIT, ROLLBACK on throw). */
  transaction<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R;
  /** PRAGMA user_version, read or written. */
  userVersion(value?: number): number;
  close(): void;
}

export interface OpenOptions {
  /** `:memory:` in tests. */
  path: string;
  /** FULL makes an acknowledged delivery survive a power cut; NORMAL is the WAL default. */
  synchronous?: "NORMAL" | "FULL";
}

/** Opens better-sqlite3 with WAL, a busy timeout and foreign keys. Imported lazily so the Action never loads it. */
export async function openSqlite(options: OpenOptions): Promise<Db> {
  const { default: Database } = await import("better-sqlite3");
  const raw = new Database(options.path);
  raw.pragma("journal_mode = WAL");
  raw.pragma(`synchronous = ${options.synchronous ?? "NORMAL"}`);
  raw.pragma("busy_timeout = 5000");
  raw.pragma("foreign_keys = ON");
  return {
    prepare: (sql) => {
      const stmt = raw.prepare(sql);
      return {
        run: (...params) => stmt.run(...params),
        get: (...params) => stmt.get(...params),
        all: (...params) => stmt.all(...params),
      };
    },
    exec: (sql) => {
      raw.exec(sql);
    },
    transaction: (fn) => raw.transaction(fn).immediate as typeof fn,
    userVersion: (value) => {
      if (value !== undefined) raw.pragma(`user_version = ${Math.trunc(value)}`);
      return raw.pragma("user_version", { simple: true }) as number;
    },
    close: () => raw.close(),
  };
}

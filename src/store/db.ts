/**
 * The database driver seam. The store is written against this small subset of
 * better-sqlite3's API so the same SQL runs on better-sqlite3 (the app, the CLI,
 * tests) and on a WebAssembly SQLite in the Action, where no native module may load.
 */
import type { Database as RawDb } from "better-sqlite3";
import { close, closeSync, fdatasync, open } from "node:fs";

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
  /**
   * Opens a transaction (BEGIN IMMEDIATE), or a savepoint when one is open, for a caller that
   * awaits between its statements (the async store's `tx`); end it with exactly one of the two.
   */
  begin(): { commit(): void; rollback(): void };
  /** True while a transaction is open (optional: drivers that cannot tell leave it out). */
  inTransaction?(): boolean;
  /**
   * Flushes the write-ahead log to disk off the event loop (optional; file databases only).
   * With synchronous=NORMAL a commit is written but not fsynced; after this resolves, every
   * transaction committed before the call survives a power cut. The intake's group commit uses
   * it to acknowledge deliveries durably without blocking the event loop on fsync.
   */
  syncWal?(): Promise<void>;
  /** PRAGMA user_version, read or written. */
  userVersion(value?: number): number;
  close(): void;
}

export interface OpenOptions {
  /** `:memory:` in tests. */
  path: string;
  /** FULL makes an acknowledged delivery survive a power cut; NORMAL is the WAL default. */
  synchronous?: "NORMAL" | "FULL";
  /**
   * Switch the file to auto_vacuum=INCREMENTAL at open (default), so retention compaction can
   * give deleted pages back to the file system. A new file is switched for free; an existing one
   * needs one VACUUM (a rewrite of the file, once: seconds per GB), logged to stderr.
   */
  autoVacuum?: boolean;
}

/** auto_vacuum=INCREMENTAL (2), with the one VACUUM an existing database needs to switch. */
function ensureIncrementalVacuum(raw: RawDb): void {
  if ((raw.pragma("auto_vacuum", { simple: true }) as number) === 2) return;
  raw.pragma("auto_vacuum = INCREMENTAL");
  // An empty file takes the setting as it is; an existing one needs a VACUUM to switch.
  if ((raw.pragma("auto_vacuum", { simple: true }) as number) === 2) return;
  const pages = raw.pragma("page_count", { simple: true }) as number;
  const started = Date.now();
  raw.exec("VACUUM");
  console.error(
    `bg-agent: switched the database to auto_vacuum=INCREMENTAL (one VACUUM of ${pages} pages, ${Date.now() - started} ms)`,
  );
}

/** Opens better-sqlite3 with WAL, a busy timeout and foreign keys. Imported lazily so the Action never loads it. */
export async function openSqlite(options: OpenOptions): Promise<Db> {
  const { default: Database } = await import("better-sqlite3");
  const raw = new Database(options.path);
  // Before WAL: a new file takes auto_vacuum for free only while it has no pages.
  if (options.path !== ":memory:" && options.autoVacuum !== false) ensureIncrementalVacuum(raw);
  raw.pragma("journal_mode = WAL");
  raw.pragma(`synchronous = ${options.synchronous ?? "NORMAL"}`);
  raw.pragma("busy_timeout = 5000");
  raw.pragma("foreign_keys = ON");
  // Prepared statements are cached by SQL text: preparing is most of a small query's cost, and
  // the store's methods prepare on every call. Bounded, since a few statements have dynamic IN lists.
  const cache = new Map<string, Statement>();
  let txStmts: TxStatements | undefined;
  const wal = options.path === ":memory:" ? undefined : walSyncer(`${options.path}-wal`);
  return {
    prepare: (sql) => {
      const hit = cache.get(sql);
      if (hit) return hit;
      const stmt = raw.prepare(sql);
      const wrapped: Statement = {
        run: (...params) => stmt.run(...params),
        get: (...params) => stmt.get(...params),
        all: (...params) => stmt.all(...params),
      };
      if (cache.size >= 500) cache.clear();
      cache.set(sql, wrapped);
      return wrapped;
    },
    exec: (sql) => {
      raw.exec(sql);
    },
    // better-sqlite3's db.transaction(fn) builds five wrappers per call; store.tx calls it per
    // write, so this is the same semantics (BEGIN IMMEDIATE, or a savepoint when nested) with
    // statements prepared once.
    transaction: (fn) => {
      const begin = (txStmts ??= prepareTxStatements(raw));
      return (...args) => begin.run(fn, args, raw);
    },
    begin: () => (txStmts ??= prepareTxStatements(raw)).begin(raw),
    inTransaction: () => raw.inTransaction,
    userVersion: (value) => {
      if (value !== undefined) raw.pragma(`user_version = ${Math.trunc(value)}`);
      return raw.pragma("user_version", { simple: true }) as number;
    },
    ...(wal ? { syncWal: wal.sync } : {}),
    close: () => {
      wal?.close();
      raw.close();
    },
  };
}

/**
 * fdatasyncs the WAL file through a descriptor of our own (it flushes the file, whatever the
 * descriptor). The callback API on libuv's pool: FileHandle's promise API costs several times
 * more CPU per call, which intake pays once per group commit.
 */
function walSyncer(walPath: string): { sync(): Promise<void>; close(): void } {
  let fd: number | null = null;
  const once = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const sync = (d: number): void =>
        fdatasync(d, (e) => {
          if (!e) return resolve();
          fd = null;
          close(d, () => reject(e));
        });
      if (fd !== null) return sync(fd);
      open(walPath, "r", (e, d) => {
        if (e) return e.code === "ENOENT" ? resolve() : reject(e); // no WAL yet: nothing to sync
        fd = d;
        sync(d);
      });
    });
  // Coalesced: while an fsync runs, callers share the single next one (which starts after it and
  // so covers everything they committed), instead of queueing one fsync each.
  let running: Promise<void> | null = null;
  let queued: Promise<void> | null = null;
  const sync = (): Promise<void> => {
    if (!running) {
      running = once().finally(() => {
        running = null;
      });
      return running;
    }
    queued ??= running
      .catch(() => {})
      .then(() => {
        queued = null;
        return sync();
      });
    return queued;
  };
  return {
    sync,
    close: () => {
      if (fd !== null) closeSync(fd);
      fd = null;
    },
  };
}

interface TxStatements {
  run<A extends unknown[], R>(fn: (...args: A) => R, args: A, raw: RawDb): R;
  begin(raw: RawDb): { commit(): void; rollback(): void };
}

function prepareTxStatements(raw: RawDb): TxStatements {
  const begin = raw.prepare("BEGIN IMMEDIATE");
  const commit = raw.prepare("COMMIT");
  const rollback = raw.prepare("ROLLBACK");
  const savepoint = raw.prepare('SAVEPOINT "bg\ttx"');
  const release = raw.prepare('RELEASE "bg\ttx"');
  const rollbackTo = raw.prepare('ROLLBACK TO "bg\ttx"');
  return {
    begin(db) {
      const nested = db.inTransaction;
      (nested ? savepoint : begin).run();
      return {
        commit: () => (nested ? release : commit).run(),
        rollback: () => {
          if (!db.inTransaction) return; // SQLite rolled it back already (I/O error, disk full)
          if (nested) {
            rollbackTo.run();
            release.run();
          } else rollback.run();
        },
      };
    },
    run(fn, args, db) {
      const nested = db.inTransaction;
      (nested ? savepoint : begin).run();
      try {
        const result = fn(...args);
        if (result && typeof (result as { then?: unknown }).then === "function") {
          throw new TypeError("Transaction function cannot return a promise");
        }
        (nested ? release : commit).run();
        return result;
      } catch (e) {
        if (db.inTransaction) {
          if (nested) {
            rollbackTo.run();
            release.run();
          } else rollback.run();
        }
        throw e;
      }
    },
  };
}

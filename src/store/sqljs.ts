import type { BindParams, Database, SqlValue, Statement as SqlJsStatement } from "sql.js";
import type { Db, RunResult, Statement } from "./db.js";

/**
 * The `Db` seam over sql.js (SQLite compiled to WebAssembly), for the Action, where no native
 * module may load. The same store and migrations run on it. The WebAssembly is inlined in the
 * module, so nothing has to be located on disk (one bundled file is enough).
 *
 * In memory only: the Action keeps its state in GitHub, not in a database file.
 */
export async function openSqlJs(): Promise<Db> {
  const { default: initSqlJs } = await import("sql.js/dist/sql-wasm-inline.js");
  const SQL = await initSqlJs();
  return wrap(new SQL.Database());
}

/** better-sqlite3 takes numbers, strings, bigints, buffers and null; map the rest like it would store them. */
function toSql(v: unknown): SqlValue {
  if (v === undefined || v === null) return null;
  if (typeof v === "number" || typeof v === "string") return v;
  if (typeof v === "bigint") return Number(v);
  if (typeof v === "boolean") return v ? 1 : 0;
  if (v instanceof Uint8Array) return v;
  throw new TypeError(
    `SQLite cannot bind a value of type ${typeof v}; pass a number, string, bigint, Buffer or null`,
  );
}

function wrap(raw: Database): Db {
  raw.run("PRAGMA foreign_keys = ON");
  const cache = new Map<string, SqlJsStatement>();
  let depth = 0;
  let closed = false;

  const statement = (sql: string): SqlJsStatement => {
    if (closed) throw new Error("the database is closed");
    let s = cache.get(sql);
    if (!s) {
      s = raw.prepare(sql);
      cache.set(sql, s);
    }
    return s;
  };

  /** Binds, runs `fn` on the statement, and always resets it for the next use. */
  const using = <R>(sql: string, params: unknown[], fn: (s: SqlJsStatement) => R): R => {
    const s = statement(sql);
    try {
      s.bind(params.map(toSql) as BindParams);
      return fn(s);
    } finally {
      s.reset();
    }
  };

  const scalar = (sql: string): number =>
    using(sql, [], (s) => (s.step() ? Number(s.get()[0]) : 0));

  return {
    prepare(sql: string): Statement {
      // Prepared now so a syntax error surfaces at prepare time, as with better-sqlite3.
      statement(sql);
      return {
        run: (...params): RunResult => {
          using(sql, params, (s) => {
            while (s.step());
          });
          return {
            changes: raw.getRowsModified(),
            lastInsertRowid: scalar("SELECT last_insert_rowid()"),
          };
        },
        get: (...params) => using(sql, params, (s) => (s.step() ? s.getAsObject() : undefined)),
        all: (...params) =>
          using(sql, params, (s) => {
            const rows: unknown[] = [];
            while (s.step()) rows.push(s.getAsObject());
            return rows;
          }),
      };
    },
    exec(sql: string): void {
      if (closed) throw new Error("the database is closed");
      raw.exec(sql);
    },
    transaction<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
      return (...args: A): R => {
        // Nested calls become savepoints, so an inner failure the caller catches undoes only its own writes.
        const savepoint = depth > 0 ? `bg_sp_${depth}` : null;
        raw.exec(savepoint ? `SAVEPOINT ${savepoint}` : "BEGIN IMMEDIATE");
        depth++;
        try {
          const result = fn(...args);
          depth--;
          raw.exec(savepoint ? `RELEASE ${savepoint}` : "COMMIT");
          return result;
        } catch (e) {
          depth--;
          raw.exec(savepoint ? `ROLLBACK TO ${savepoint}; RELEASE ${savepoint}` : "ROLLBACK");
          throw e;
        }
      };
    },
    begin() {
      const savepoint = depth > 0 ? `bg_sp_${depth}` : null;
      raw.exec(savepoint ? `SAVEPOINT ${savepoint}` : "BEGIN IMMEDIATE");
      depth++;
      let ended = false;
      const end = (sql: string): void => {
        if (ended) return;
        ended = true;
        depth--;
        raw.exec(sql);
      };
      return {
        commit: () => end(savepoint ? `RELEASE ${savepoint}` : "COMMIT"),
        rollback: () =>
          end(savepoint ? `ROLLBACK TO ${savepoint}; RELEASE ${savepoint}` : "ROLLBACK"),
      };
    },
    inTransaction: () => depth > 0,
    userVersion(value?: number): number {
      if (value !== undefined) raw.exec(`PRAGMA user_version = ${Math.trunc(value)}`);
      return scalar("PRAGMA user_version");
    },
    close(): void {
      if (closed) return;
      for (const s of cache.values()) s.free();
      cache.clear();
      raw.close();
      closed = true;
    },
  };
}

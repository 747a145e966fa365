/**
 * The PostgreSQL query seam: the part classes of this folder run their SQL through an `Exec`,
 * bound either to the pool (each statement on whichever connection is free) or to the one client
 * of a transaction. SQL is written with `?` placeholders like the SQLite reference bodies and
 * numbered here; `AS camelCase` aliases are quoted so PostgreSQL keeps their case. A failure of
 * the connection itself (the server restarting, a dropped socket, no connection in time) is
 * thrown as a StoreUnavailableError (src/store/unavailable.ts); SQL errors pass unchanged.
 */
import type { Pool, PoolClient, QueryResultRow } from "pg";
import { isConnectionError, reasonOf, StoreUnavailableError } from "../unavailable.js";

export interface Queryable {
  query<R extends QueryResultRow>(
    text: string,
    values?: unknown[],
  ): Promise<{ rows: R[]; rowCount: number | null }>;
}

const translated = new Map<string, string>();

/** `?` to `$1…$n` (outside string literals) and camelCase aliases quoted; cached by text. */
export function toPgSql(sql: string): string {
  const hit = translated.get(sql);
  if (hit !== undefined) return hit;
  let n = 0;
  let out = "";
  let inString = false;
  for (const ch of sql) {
    if (ch === "'") inString = !inString;
    out += ch === "?" && !inString ? `$${++n}` : ch;
  }
  out = out.replace(/\bAS ([a-z]+[A-Z]\w*)/g, 'AS "$1"');
  if (translated.size >= 1000) translated.clear();
  translated.set(sql, out);
  return out;
}

/** A connection failure as a StoreUnavailableError; any other error as it is. */
export function storeError(e: unknown): Error {
  if (e instanceof StoreUnavailableError) return e;
  if (isConnectionError(e))
    return new StoreUnavailableError(`the PostgreSQL database is unavailable: ${reasonOf(e)}`, {
      cause: e,
    });
  return e instanceof Error ? e : new Error(String(e));
}

let savepoints = 0;

/** A transaction's (or savepoint's) state: its statements run only while it and its parents are open. */
interface TxState {
  open: boolean;
  parent: TxState | null;
}

const isOpen = (s: TxState | null): boolean => {
  for (let x = s; x; x = x.parent) if (!x.open) return false;
  return true;
};

export class Exec {
  /** Round trips made through this executor and the ones it spawned (the benchmark reads it). */
  static roundTrips = 0;

  /** The savepoint running now on this handle: nested transactions take turns. */
  private nested: Promise<void> | undefined;

  constructor(
    private readonly target: Queryable,
    /** The pool, when this executor is not inside a transaction. */
    private readonly pool: Pool | null,
    private readonly state: TxState | null = null,
  ) {}

  get inTransaction(): boolean {
    return this.pool === null;
  }

  private async query<R extends QueryResultRow>(
    sql: string,
    params: unknown[],
  ): Promise<{ rows: R[]; rowCount: number | null }> {
    if (!isOpen(this.state))
      throw new Error(
        "store: a call through a transaction that has ended; await it inside the tx callback",
      );
    Exec.roundTrips++;
    try {
      return await this.target.query<R>(toPgSql(sql), params);
    } catch (e) {
      throw storeError(e);
    }
  }

  async all<R extends QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
    return (await this.query<R>(sql, params)).rows;
  }

  async get<R extends QueryResultRow>(sql: string, params: unknown[] = []): Promise<R | undefined> {
    return (await this.all<R>(sql, params))[0];
  }

  /** Runs a statement; resolves to the number of rows it changed. */
  async run(sql: string, params: unknown[] = []): Promise<number> {
    return (await this.query(sql, params)).rowCount ?? 0;
  }

  /**
   * Runs `fn` in one transaction on a dedicated client: BEGIN … COMMIT, ROLLBACK on throw. Inside
   * a transaction already, a SAVEPOINT (rolled back to on throw, released otherwise); savepoints
   * started concurrently on one handle take turns, as they must nest.
   */
  async tx<R>(fn: (e: Exec) => Promise<R>): Promise<R> {
    if (!this.pool) return this.savepoint(fn);
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (e) {
      throw storeError(e);
    }
    // A checked-out client has no error listener of the pool's: a connection lost while this
    // transaction waits (e.g. on GitHub) would otherwise be an uncaught 'error' event.
    let lost: Error | undefined;
    const onError = (e: Error): void => {
      lost = e;
    };
    client.on("error", onError);
    const state: TxState = { open: true, parent: null };
    const inner = new Exec(client, null, state);
    let broken: Error | undefined;
    try {
      await inner.run("BEGIN");
      const result = await fn(inner);
      await inner.settled();
      await inner.run("COMMIT");
      return result;
    } catch (e) {
      try {
        await inner.run("ROLLBACK");
      } catch (rollbackError) {
        // the connection is gone: do not return it to the pool
        broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
      }
      throw storeError(e);
    } finally {
      state.open = false;
      client.off("error", onError);
      client.release(broken ?? lost);
    }
  }

  /** Resolves when the savepoints started on this handle have ended. */
  private async settled(): Promise<void> {
    while (this.nested) {
      const n = this.nested;
      await n;
      if (this.nested === n) this.nested = undefined;
    }
  }

  private savepoint<R>(fn: (e: Exec) => Promise<R>): Promise<R> {
    if (!isOpen(this.state))
      return Promise.reject(new Error("store: tx() on a transaction that has ended"));
    const once = async (): Promise<R> => {
      const name = `bg_sp_${++savepoints}`;
      const state: TxState = { open: true, parent: this.state };
      const child = new Exec(this.target, null, state);
      await this.run(`SAVEPOINT ${name}`);
      try {
        const result = await fn(child);
        await child.settled();
        state.open = false;
        await this.run(`RELEASE SAVEPOINT ${name}`);
        return result;
      } catch (e) {
        state.open = false;
        await this.run(`ROLLBACK TO SAVEPOINT ${name}`);
        await this.run(`RELEASE SAVEPOINT ${name}`);
        throw e;
      }
    };
    const turn = this.nested ? this.nested.then(once) : once();
    this.nested = turn.then(
      () => undefined,
      () => undefined,
    );
    return turn;
  }
}

/**
 * The PostgreSQL query seam: the part classes of this folder run their SQL through an `Exec`,
 * bound either to the pool (each statement on whichever connection is free) or to the one client
 * of a transaction. SQL is written with `?` placeholders like the SQLite reference bodies and
 * numbered here; `AS camelCase` aliases are quoted so PostgreSQL keeps their case. A failure of
 * the connection itself (the server restarting, a dropped socket, no connection in time) is
 * thrown as a StoreUnavailableError (src/store/unavailable.ts); SQL errors pass unchanged. A
 * transaction the server ended for sitting idle is an IdleTransactionTimeoutError.
 */
import { createHash } from "node:crypto";
import pg from "pg";
import type { Pool, PoolClient, QueryConfig, QueryResultRow } from "pg";
import { isConnectionError, reasonOf, StoreUnavailableError } from "../unavailable.js";
import { IdleTransactionTimeoutError, isIdleTxTimeout } from "./pg-idle-timeout.js";
import { leanQuery, leanValues } from "./pg-lean-query.js";

export interface Queryable {
  query<R extends QueryResultRow>(
    config: QueryConfig | string,
  ): Promise<{ rows: R[]; rowCount: number | null }>;
}

/**
 * A statement as sent, worked out once per SQL text: its PostgreSQL text, for the data statements
 * a prepared-statement name, and the pieces between its placeholders for writing the values in.
 */
interface Translated {
  text: string;
  name: string | undefined;
  /** The SQL (aliases quoted) split at its `?` placeholders: one piece more than there are. */
  pieces: string[];
}

const translated = new Map<string, Translated>();

/**
 * Data statements are sent as named (prepared) statements: each connection parses and plans one
 * once, then only binds and executes it, which is most of PostgreSQL's CPU for the store's short
 * statements. The name is a hash of the text, so it is the same on every connection and process.
 * Transaction control, locks and DDL are sent as they are.
 */
const PREPARED = /^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b/i;

const quoteAliases = (sql: string): string => sql.replace(/\bAS ([a-z]+[A-Z]\w*)/g, 'AS "$1"');

/** The SQL split at its `?` placeholders outside string literals. */
function splitPlaceholders(sql: string): string[] {
  const pieces: string[] = [];
  let inString = false;
  let start = 0;
  for (let i = 0; i < sql.length; i++) {
    const ch = sql.charCodeAt(i);
    if (ch === 39 /* ' */) inString = !inString;
    else if (ch === 63 /* ? */ && !inString) {
      pieces.push(sql.slice(start, i));
      start = i + 1;
    }
  }
  pieces.push(sql.slice(start));
  return pieces;
}

function translate(sql: string): Translated {
  const hit = translated.get(sql);
  if (hit !== undefined) return hit;
  const pieces = splitPlaceholders(quoteAliases(sql));
  let text = pieces[0]!;
  for (let i = 1; i < pieces.length; i++) text += `$${i}${pieces[i]!}`;
  const t: Translated = {
    text,
    name: PREPARED.test(text)
      ? `bg_${createHash("sha1").update(text).digest("hex").slice(0, 24)}`
      : undefined,
    pieces,
  };
  if (translated.size >= 1000) translated.clear();
  translated.set(sql, t);
  return t;
}

/** The values as quoted literals, or undefined when one is not a string, number, boolean or null. */
function literalsOf(params: readonly unknown[]): string[] | undefined {
  const literals: string[] = [];
  for (const v of params) {
    if (v === null || v === undefined) literals.push("NULL");
    else if (typeof v === "string") literals.push(pg.escapeLiteral(v));
    else if (typeof v === "number" && Number.isFinite(v)) literals.push(`'${v}'`);
    else if (typeof v === "boolean") literals.push(v ? "'true'" : "'false'");
    else return undefined;
  }
  return literals;
}

const withLiterals = (pieces: readonly string[], literals: readonly string[]): string => {
  let out = pieces[0]!;
  for (let i = 0; i < literals.length; i++) out += literals[i]! + pieces[i + 1]!;
  return out;
};

/**
 * The statement with its parameters written in as quoted literals (the simple protocol, which
 * can carry `BEGIN` in the same message), or undefined when one is not a string, number, boolean
 * or null. A quoted literal has no type until its context gives one, as a parameter has none.
 */
export function inlineSql(sql: string, params: readonly unknown[]): string | undefined {
  const t = translate(sql);
  const literals = literalsFor(t, params);
  return literals && withLiterals(t.pieces, literals);
}

/**
 * The values as literals for `t`'s placeholders, or undefined: a count that differs, or a value
 * that cannot be a literal.
 */
const literalsFor = (t: Translated, params: readonly unknown[]): string[] | undefined =>
  t.pieces.length === params.length + 1 ? literalsOf(params) : undefined;

/** The driver's record of the named statements parsed on a connection (pg's Connection). */
type Parsed = Record<string, string | undefined>;

const parsedOn = (target: Queryable): Parsed | undefined => {
  const c = (target as { connection?: { parsedStatements?: unknown } }).connection;
  const p = c?.parsedStatements;
  return p && typeof p === "object" ? (p as Parsed) : undefined;
};

/**
 * A transaction's first statement, to send after `BEGIN; ` in one simple-protocol message, when it
 * is not yet prepared on the connection (once it is, Exec sends it with the protocol's Bind and
 * Execute after BEGIN instead, src/store/postgres/pg-lean-query.ts) or behind a pooler. A data
 * statement runs as the connection's prepared statement (`EXECUTE name('v', …)`: planned as when
 * sent on its own, not on every use); the first time on a connection it is prepared in the same
 * message (`PREPARE name AS …`), and once that succeeded `prepared()` records it as parsed in the
 * driver, which then never parses it again. Other statements, without the driver's record or
 * with `sqlPrepare` false (a transaction-mode pooler), are written out with their values.
 * Undefined when a value cannot be written as a literal.
 */
export function firstStatement(
  target: Queryable,
  sql: string,
  params: readonly unknown[],
  sqlPrepare = true,
): { text: string; prepared?: () => void } | undefined {
  const t = translate(sql);
  const literals = literalsFor(t, params);
  if (!literals) return undefined;
  const name = t.name;
  const parsed = name && sqlPrepare ? parsedOn(target) : undefined;
  if (!name || !parsed) return { text: withLiterals(t.pieces, literals) };
  const execute = `EXECUTE ${name}${literals.length ? `(${literals.join(", ")})` : ""}`;
  if (parsed[name] === t.text) return { text: execute };
  return {
    text: `PREPARE ${name} AS ${t.text}; ${execute}`,
    prepared: () => {
      parsed[name] = t.text;
    },
  };
}

/** `?` to `$1…$n` (outside string literals) and camelCase aliases quoted. */
export function toPgSql(sql: string): string {
  return translate(sql).text;
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
  /**
   * The transaction's BEGIN, not sent yet: it goes in the same message as the first statement
   * (one round trip fewer), and a transaction that ran none sends neither BEGIN nor COMMIT.
   */
  begin?: { pending: boolean };
  /** The transaction's kept reads (`Exec.kept`), on its root state. */
  kept?: Map<string, unknown> | undefined;
  /**
   * A message that prepared a statement failed: whether the statement exists on the connection
   * is not known (a PREPARE outlives a rollback), so the connection is not reused.
   */
  unsure?: Error | undefined;
}

const rootOf = (s: TxState | null): TxState | null => {
  let x = s;
  while (x?.parent) x = x.parent;
  return x;
};

/** The pending BEGIN of the transaction `s` belongs to, if it has not been sent. */
const pendingBegin = (s: TxState | null): { pending: boolean } | undefined => {
  let x = s;
  while (x?.parent) x = x.parent;
  return x?.begin?.pending ? x.begin : undefined;
};

type Result<R> = { rows: R[]; rowCount: number | null };

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
    /**
     * Whether a transaction's first statement may be prepared with SQL (`PREPARE`/`EXECUTE`, see
     * firstStatement): not behind a pooler in transaction mode (BG_DB_POOLER=transaction), which
     * hands each transaction whichever server connection is free and tracks only the protocol's
     * prepared statements.
     */
    private readonly sqlPrepare = true,
  ) {}

  get inTransaction(): boolean {
    return this.pool === null;
  }

  /**
   * Values one of this transaction's statements read along with its own work, kept for a later
   * call in the same transaction instead of a round trip of its own (a savepoint shares its
   * transaction's); undefined outside a transaction and once it ended. Whoever keeps a value
   * deletes it before any write that could change what it read.
   */
  get kept(): Map<string, unknown> | undefined {
    const root = rootOf(this.state);
    if (!root || !isOpen(this.state)) return undefined;
    return (root.kept ??= new Map());
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
      const { text, name } = translate(sql);
      // In a transaction (the target is its client), a named statement is described once per
      // connection (src/store/postgres/pg-lean-query.ts). Not behind a transaction-mode pooler:
      // its server connection changes between transactions, and with it where a statement was
      // described.
      const lean =
        name !== undefined && this.state !== null && this.sqlPrepare && leanValues(params);
      const begin = pendingBegin(this.state);
      if (begin) {
        begin.pending = false;
        // Prepared on this connection already, it goes under one Sync with BEGIN; the first time,
        // and behind a transaction-mode pooler, as below.
        if (lean && parsedOn(this.target)?.[name] === text)
          return await leanQuery<R>(this.target as PoolClient, name, text, params, true);
        const first = firstStatement(this.target, sql, params, this.sqlPrepare);
        if (first !== undefined) {
          // Statements in one simple-protocol message: the result is one per statement.
          let all: Result<R> | Result<R>[];
          try {
            all = (await this.target.query<R>(`BEGIN; ${first.text}`)) as Result<R> | Result<R>[];
          } catch (e) {
            const root = rootOf(this.state);
            if (first.prepared && root) root.unsure = e instanceof Error ? e : new Error(String(e));
            throw e;
          }
          first.prepared?.();
          return Array.isArray(all) ? all[all.length - 1]! : all;
        }
        Exec.roundTrips++;
        await this.target.query("BEGIN");
      }
      if (lean) return await leanQuery<R>(this.target as PoolClient, name, text, params);
      // Without parameters, the text alone: the driver copies a config object per query.
      return await this.target.query<R>(
        name ? { name, text, values: params } : params.length ? { text, values: params } : text,
      );
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
      lost ??= e; // the first: the reason (25P03), not the "terminated" that follows
    };
    client.on("error", onError);
    const begin = { pending: true };
    // Every field from the start: one object shape for all transactions' states.
    const state: TxState = { open: true, parent: null, begin, kept: undefined, unsure: undefined };
    const inner = new Exec(client, null, state, this.sqlPrepare);
    let broken: Error | undefined;
    try {
      const result = await fn(inner);
      await inner.settled();
      if (!begin.pending) await inner.run("COMMIT");
      return result;
    } catch (e) {
      try {
        if (!begin.pending) await inner.run("ROLLBACK");
      } catch (rollbackError) {
        // the connection is gone: do not return it to the pool
        broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
      }
      // The server ended the transaction for sitting idle (a handler waiting on GitHub): say so,
      // rather than the "not queryable" the next statement got.
      if (isIdleTxTimeout(lost) || isIdleTxTimeout(e))
        throw new IdleTransactionTimeoutError(
          this.pool.options.idle_in_transaction_session_timeout,
          { cause: lost ?? e },
        );
      throw storeError(e);
    } finally {
      state.open = false;
      client.off("error", onError);
      client.release(broken ?? lost ?? state.unsure);
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
      const child = new Exec(this.target, null, state, this.sqlPrepare);
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

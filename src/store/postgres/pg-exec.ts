/**
 * The PostgreSQL query seam: the part classes of this folder run their SQL through an `Exec`,
 * bound either to the pool (each statement on whichever connection is free) or to the one client
 * of a transaction. SQL is written with `?` placeholders like the SQLite reference bodies and
 * numbered here; `AS camelCase` aliases are quoted so PostgreSQL keeps their case.
 */
import type { Pool, PoolClient, QueryResultRow } from "pg";

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

let savepoints = 0;

export class Exec {
  /** Round trips made through this executor and the ones it spawned (the benchmark reads it). */
  static roundTrips = 0;

  constructor(
    private readonly target: Queryable,
    /** The pool, when this executor is not inside a transaction. */
    private readonly pool: Pool | null,
  ) {}

  get inTransaction(): boolean {
    return this.pool === null;
  }

  async all<R extends QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
    Exec.roundTrips++;
    return (await this.target.query<R>(toPgSql(sql), params)).rows;
  }

  async get<R extends QueryResultRow>(sql: string, params: unknown[] = []): Promise<R | undefined> {
    return (await this.all<R>(sql, params))[0];
  }

  /** Runs a statement; resolves to the number of rows it changed. */
  async run(sql: string, params: unknown[] = []): Promise<number> {
    Exec.roundTrips++;
    return (await this.target.query(toPgSql(sql), params)).rowCount ?? 0;
  }

  /**
   * Runs `fn` in one transaction on a dedicated client: BEGIN … COMMIT, ROLLBACK on throw. Inside
   * a transaction already, a SAVEPOINT (rolled back to on throw, released otherwise).
   */
  async tx<R>(fn: (e: Exec) => Promise<R>): Promise<R> {
    if (!this.pool) {
      const name = `bg_sp_${++savepoints}`;
      await this.run(`SAVEPOINT ${name}`);
      try {
        const result = await fn(this);
        await this.run(`RELEASE SAVEPOINT ${name}`);
        return result;
      } catch (e) {
        await this.run(`ROLLBACK TO SAVEPOINT ${name}`);
        await this.run(`RELEASE SAVEPOINT ${name}`);
        throw e;
      }
    }
    const client: PoolClient = await this.pool.connect();
    const inner = new Exec(client, null);
    let broken: unknown;
    try {
      await inner.run("BEGIN");
      const result = await fn(inner);
      await inner.run("COMMIT");
      return result;
    } catch (e) {
      try {
        await inner.run("ROLLBACK");
      } catch (rollbackError) {
        broken = rollbackError; // the connection is gone: do not return it to the pool
      }
      throw e;
    } finally {
      client.release(broken instanceof Error ? broken : undefined);
    }
  }
}

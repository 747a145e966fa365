/**
 * A statement built once for both engines: SQL with `?` placeholders (the PostgreSQL executor,
 * src/store/postgres/pg-exec.ts, numbers them) and its parameters in order. The SQLite part files
 * build the queries whose text is the same on both; the PostgreSQL parts run them, adding only
 * what is really PostgreSQL's (`RETURNING id` for SQLite's lastInsertRowid, arrays for IN lists).
 */
import type { StoreDialect } from "./contract.js";

export interface SqlQuery {
  sql: string;
  params: unknown[];
}

/**
 * `WHERE a = ? AND …` of the conditions whose value is set (truthy: an empty filter field, a
 * `beforeId` of 0 narrow nothing), or "" when none is.
 */
export function whereSet(
  conditions: readonly (readonly [clause: string, value: unknown])[],
): SqlQuery {
  const set = conditions.filter(([, v]) => Boolean(v));
  return {
    sql: set.length ? `WHERE ${set.map(([c]) => c).join(" AND ")}` : "",
    params: set.map(([, v]) => v),
  };
}

/** The two-argument minimum and maximum: scalar MIN/MAX in SQLite, LEAST/GREATEST in PostgreSQL. */
export function minMax(dialect: StoreDialect): { min: string; max: string } {
  return dialect === "postgres" ? { min: "LEAST", max: "GREATEST" } : { min: "MIN", max: "MAX" };
}

/**
 * `column IN (…)` of a list: SQLite binds each value (an empty list matches nothing), PostgreSQL
 * binds one array.
 */
export function inList(
  dialect: StoreDialect,
  column: string,
  values: readonly unknown[],
  pgType: "text" | "bigint" = "text",
): SqlQuery {
  return dialect === "postgres"
    ? { sql: `${column} = ANY(?::${pgType}[])`, params: [values] }
    : { sql: `${column} IN (${values.map(() => "?").join(",") || "NULL"})`, params: [...values] };
}

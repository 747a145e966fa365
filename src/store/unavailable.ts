/**
 * Transient store failures (issue #16). "The database is not there right now" as one error type:
 * PostgreSQL restarting, a dropped connection, a pool that cannot connect in time. The PostgreSQL
 * store wraps such failures in a StoreUnavailableError (src/store/postgres/pg-exec.ts); the
 * webhook endpoint then answers 503 with Retry-After instead of 500 (GitHub shows the delivery as
 * failed, a person can redeliver it), and `GET /readyz` answers 503. And the conflicts between
 * concurrent transactions that PostgreSQL resolves by ending one of them (retried).
 */

export class StoreUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StoreUnavailableError";
  }
}

/** Socket-level codes of a connection that failed or was dropped. */
const SOCKET_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/**
 * SQLSTATEs of a server that is going away or not accepting work: 57P01 admin_shutdown, 57P02
 * crash_shutdown, 57P03 cannot_connect_now (starting up, recovering), class 08 (connection
 * exceptions), 53300 too_many_connections.
 */
const unavailableSqlState = (code: string): boolean =>
  code === "57P01" ||
  code === "57P02" ||
  code === "57P03" ||
  code === "53300" ||
  /^08[0-9A-Z]{3}$/.test(code);

/** What node-postgres and its pool say when a connection is gone or cannot be had (no code). */
const PG_MESSAGES = [
  /^Connection terminated/, // unexpectedly / due to connection timeout
  /^timeout exceeded when trying to connect$/, // the pool's connectionTimeoutMillis
  /^Client has encountered a connection error and is not queryable$/,
];

function isOwnConnectionError(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  const code = (e as { code?: unknown }).code;
  if (typeof code === "string" && (SOCKET_CODES.has(code) || unavailableSqlState(code)))
    return true;
  return PG_MESSAGES.some((re) => re.test(e.message));
}

/** The error and what it wraps (`cause`, an AggregateError's `errors`), depth-limited. */
function* chain(e: unknown, depth = 0): Generator<unknown> {
  if (depth > 8 || e == null) return;
  yield e;
  if (e instanceof AggregateError) for (const x of e.errors) yield* chain(x, depth + 1);
  if (e instanceof Error && e.cause !== undefined) yield* chain(e.cause, depth + 1);
}

/** True when `e` (or what it wraps) says the database connection failed or the server is unavailable. */
export function isConnectionError(e: unknown): boolean {
  for (const x of chain(e)) if (isOwnConnectionError(x)) return true;
  return false;
}

/** True when `e`, or an error it wraps, is a StoreUnavailableError. */
export function isStoreUnavailable(e: unknown): boolean {
  for (const x of chain(e)) if (x instanceof StoreUnavailableError) return true;
  return false;
}

/** A short reason from an error whose own message may be empty (an AggregateError of a refused connect). */
export function reasonOf(e: unknown): string {
  for (const x of chain(e)) {
    if (x instanceof Error && x.message) return x.message;
    const code = (x as { code?: unknown } | null)?.code;
    if (typeof code === "string") return code;
  }
  return String(e);
}

/**
 * True when `e` is PostgreSQL ending a transaction to resolve a conflict with a concurrent one
 * (40P01 deadlock_detected, 40001 serialization_failure): nothing of it was committed, and the
 * same work run again will normally succeed.
 */
export function isRetryableConflict(e: unknown): boolean {
  for (const x of chain(e)) {
    const code = (x as { code?: unknown } | null)?.code;
    if (code === "40P01" || code === "40001") return true;
  }
  return false;
}

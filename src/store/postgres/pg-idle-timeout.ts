/**
 * A transaction PostgreSQL ended because it sat idle longer than the connection's
 * `idle_in_transaction_session_timeout` (BG_DB_IDLE_TX_TIMEOUT_MS): the server terminates the
 * connection with SQLSTATE 25P03, nothing of the transaction is committed, and the connection is
 * dropped from the pool. It is a StoreUnavailableError, so a webhook delivery is answered 503 with
 * nothing recorded, as for a dropped connection (GitHub's redelivery is processed in full).
 */
import { StoreUnavailableError } from "../unavailable.js";

/** SQLSTATE 25P03 idle_in_transaction_session_timeout. */
const IDLE_TX_TIMEOUT = "25P03";

export class IdleTransactionTimeoutError extends StoreUnavailableError {
  constructor(
    /** The timeout the connection had, in ms (undefined when unknown). */
    readonly timeoutMs: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(
      `PostgreSQL ended the transaction: it was idle longer than ${
        timeoutMs === undefined ? "its" : `the ${timeoutMs} ms`
      } idle_in_transaction_session_timeout (BG_DB_IDLE_TX_TIMEOUT_MS); nothing of it was committed`,
      options,
    );
    this.name = "IdleTransactionTimeoutError";
  }
}

/** True when `e` is the server terminating a connection for its idle transaction. */
export function isIdleTxTimeout(e: unknown): boolean {
  return (e as { code?: unknown } | null | undefined)?.code === IDLE_TX_TIMEOUT;
}

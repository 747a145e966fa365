import { BudgetExceededError, LlmUnavailableError } from "../../llm/types.js";
import { PausedError } from "../../worker/pause.js";
import type { TaskOutcome } from "../../worker/types.js";

/** When LLM work is retried after the LLM was unavailable (no key, 401, unknown model). */
export const UNAVAILABLE_RETRY_MS = 60 * 60_000;
/** When work stopped by the run's cap is retried (the next run has its own cap). */
export const RUN_CAP_RETRY_MS = 60_000;

/** Why LLM work stopped mid-run: the remaining items wait, none is marked done. */
export type Stop =
  | { kind: "budget"; err: BudgetExceededError }
  | { kind: "unavailable"; message: string }
  | { kind: "paused"; err: PausedError };

export function deferOutcome(stop: Stop, now = Date.now()): TaskOutcome {
  if (stop.kind === "budget") {
    const e = stop.err;
    return {
      status: "retry",
      at: e.retryAt ?? now + RUN_CAP_RETRY_MS,
      reason: `budget stop: ${e.message}; waits until ${e.retryAt ? new Date(e.retryAt).toISOString() : "the next run"}`,
    };
  }
  if (stop.kind === "paused")
    return { status: "retry", at: stop.err.retryAt, reason: stop.err.message };
  return {
    status: "retry",
    at: now + UNAVAILABLE_RETRY_MS,
    reason: `LLM unavailable: ${stop.message}`,
  };
}

export const stopOf = (e: unknown): Stop | null =>
  e instanceof BudgetExceededError
    ? { kind: "budget", err: e }
    : e instanceof LlmUnavailableError
      ? { kind: "unavailable", message: e.message }
      : e instanceof PausedError
        ? { kind: "paused", err: e }
        : null;

export const stopNote = (s: Stop): string =>
  s.kind === "budget"
    ? `Budget stop: ${s.err.message}. The remaining issues wait until ${s.err.retryAt ? new Date(s.err.retryAt).toISOString() : "the next run"}; none is marked done.`
    : s.kind === "paused"
      ? `Paused mid-run: ${s.err.state.reason}. The remaining issues wait; none is marked done.`
      : `LLM unavailable: ${s.message}`;

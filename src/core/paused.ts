/**
 * Waiting for people: the part of the pause rules (src/worker/pause.ts) that processors and
 * intake share with the worker.
 */

/**
 * Tasks a person asked for explicitly (e.g. `/bg run <task>`) are queued at this priority or
 * above. They go ahead while people are active (asking is activity, and they are waiting for the
 * answer), but not through a manual pause or an invalid config.
 */
export const REQUESTED_PRIORITY = 90;

export interface PauseState {
  /** config: the file is invalid; manual: /bg pause or the admin API; activity: people are active. */
  kind: "config" | "manual" | "activity";
  reason: string;
}

/**
 * Thrown before an LLM call (an analysis batch, a fix round, a prompt-task turn) when the
 * repository must wait now: people became active, or a manual pause arrived, after the work
 * started. Not a failure: the work goes back as `retry` at `retryAt`, no attempt spent.
 */
export class PausedError extends Error {
  constructor(
    readonly state: PauseState,
    readonly retryAt: number,
  ) {
    super(`stopped before the next LLM call: ${state.reason}`);
    this.name = "PausedError";
  }
}

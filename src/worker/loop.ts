import type { PassSummary, Processor, WorkerEnv } from "./types.js";

export interface WorkerLoop {
  /** Runs a pass now (POST /bg/api/wake, a freshly queued command); passes never overlap. */
  wake(): Promise<PassSummary>;
  stop(): Promise<void>;
}

/** The app's in-process worker: a pass every `tickSeconds`, and on wake. */
export function startWorkerLoop(
  _env: WorkerEnv,
  _processors: readonly Processor[],
  _opts: { tickSeconds: number },
): WorkerLoop {
  throw new Error("not implemented yet");
}

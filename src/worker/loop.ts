import type { BgEnv } from "../env.js";
import type { PassOptions } from "./pass.js";
import { runPass } from "./pass.js";
import type { PassSummary, Processor, WorkerEnv } from "../core/worker-contract.js";

export interface WorkerLoop {
  /** Runs a pass now (POST /bg/api/wake, a freshly queued command); passes never overlap. */
  wake(): Promise<PassSummary>;
  stop(): Promise<void>;
}

export interface WorkerLoopOptions {
  tickSeconds: number;
  /** A sweeping pass (GitHub swept for what webhooks missed, every installed repository visited) this often. */
  sweepMinutes?: number;
  /** Options for every pass (concurrency, lease...). */
  pass?: Omit<PassOptions, "sweep">;
  /** The pass function (tests may replace it). */
  runPass?: typeof runPass;
  /**
   * Whether this pass should sweep, when replicas share the decision (the store's pace: one
   * replica sweeps per `sweepMinutes`). Default: this loop's own clock (a sweep on its first pass).
   */
  sweepDue?: (everyMs: number, now: number) => Promise<boolean>;
}

/**
 * The loop's options from the app's environment: a pass every BG_TICK_SECONDS, a sweep every
 * BG_SWEEP_MINUTES, at most BG_WORKER_CONCURRENCY repositories processed at once, and claims
 * leased for BG_LEASE_SECONDS (renewed by heartbeats while a batch runs).
 */
export function loopOptionsFromEnv(
  env: Pick<
    BgEnv,
    "BG_TICK_SECONDS" | "BG_SWEEP_MINUTES" | "BG_WORKER_CONCURRENCY" | "BG_LEASE_SECONDS"
  >,
): WorkerLoopOptions {
  return {
    tickSeconds: env.BG_TICK_SECONDS,
    sweepMinutes: env.BG_SWEEP_MINUTES,
    pass: { concurrency: env.BG_WORKER_CONCURRENCY, leaseMs: env.BG_LEASE_SECONDS * 1000 },
  };
}

/**
 * The app's in-process worker: a pass every `tickSeconds` (the timer is unref'd, so it never
 * keeps the process alive), and on `wake()`. Passes never overlap: a wake during a pass asks for
 * exactly one more pass after it (further wakes share that one). Every `sweepMinutes` (and on
 * the first pass after start), the pass also sweeps and visits every installed repository, so
 * config changes and missed webhooks are picked up.
 *
 * Nothing depends on this timer being up: all state (tasks, schedules, pauses) is in the store,
 * so a pass started by the Action's scheduled run or by `POST /bg/api/wake` runs whatever is due.
 */
export function startWorkerLoop(
  env: WorkerEnv,
  processors: readonly Processor[],
  opts: WorkerLoopOptions,
): WorkerLoop {
  const pass = opts.runPass ?? runPass;
  const sweepMs = (opts.sweepMinutes ?? 30) * 60_000;
  let lastSweep: number | null = null;
  let running: Promise<PassSummary> | null = null;
  let queued: Promise<PassSummary> | null = null;
  let stopped = false;

  const sweepNow = async (now: number): Promise<boolean> => {
    if (opts.sweepDue) {
      try {
        return await opts.sweepDue(sweepMs, now);
      } catch (e) {
        env.log.warn({ err: e }, "cannot tell whether a sweep is due; this pass does not sweep");
        return false;
      }
    }
    const due = lastSweep === null || now - lastSweep >= sweepMs;
    if (due) lastSweep = now;
    return due;
  };

  const runOne = async (): Promise<PassSummary> => {
    const sweep = await sweepNow(Date.now());
    const repos = sweep
      ? (await env.store.repos.list({ installedOnly: true })).map((r) => r.fullName)
      : undefined;
    return pass(env, processors, {
      ...opts.pass,
      sweep,
      ...(repos ? { repos: [...(opts.pass?.repos ?? []), ...repos] } : {}),
    });
  };

  const start = (): Promise<PassSummary> => {
    const p = runOne().finally(() => {
      if (running === p) running = null;
    });
    running = p;
    return p;
  };

  const wake = (): Promise<PassSummary> => {
    if (stopped) return Promise.reject(new Error("the worker loop is stopped"));
    if (!running) return start();
    if (!queued) {
      const after = running.then(
        () => undefined,
        () => undefined,
      );
      queued = after.then(() => {
        queued = null;
        if (stopped) throw new Error("the worker loop is stopped");
        return start();
      });
      // A queued pass nobody awaits must not become an unhandled rejection.
      queued.catch(() => undefined);
    }
    return queued;
  };

  const tick = (): void => {
    if (stopped || running) return;
    wake().catch((e: unknown) => env.log.error({ err: e }, "worker pass failed"));
  };

  const timer = setInterval(tick, Math.max(1, opts.tickSeconds) * 1000);
  timer.unref?.();

  return {
    wake,
    async stop() {
      stopped = true;
      clearInterval(timer);
      // A queued pass sees `stopped` and does not start; the running one is waited for.
      await Promise.allSettled(
        [running, queued].filter((p): p is Promise<PassSummary> => p !== null),
      );
    },
  };
}

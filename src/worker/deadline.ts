import type { RepoConfig } from "../config/schema.js";
import type { Task, TaskType } from "../core/domain.js";
import { parseDuration } from "../util/duration.js";
import type { Processor, ProcessorContext, TaskOutcome } from "../core/worker-contract.js";

const MIN = 60_000;

/** The outer deadline of a processor without limits of its own (automerge, commands). */
export const DEFAULT_PROCESSOR_TIMEOUT_MS = 15 * MIN;

/** A prompt task's own time limit, from its spec in the config (source `schedule:<name>`). */
const promptTaskLimitMs = (config: RepoConfig, t: Task): number => {
  const name = t.source.startsWith("schedule:") ? t.source.slice("schedule:".length) : undefined;
  const spec = config.tasks.find((s) => s.name === name);
  return (spec && parseDuration(spec.timeout)) ?? 5 * MIN;
};

/**
 * How long one processor call (a batch of `tasks`) may take before the pass gives up on it:
 * `worker.processor_timeout.<type>` when set, else a few minutes more than the task's own limits:
 * - fix: three test runs (`fix.timeout` each: the baseline, with the change, after the repair)
 *   plus 15 minutes for the clone, the LLM calls and the push;
 * - prompt_task: the tasks' own `timeout`s plus 5 minutes;
 * - tech_debt_analysis: 5 minutes per issue in the batch (an LLM call and its retries) plus 5;
 * - automerge, commands and config checks: 15 minutes.
 */
export function processorTimeoutMs(
  type: TaskType,
  config: RepoConfig,
  tasks: readonly Task[],
): number {
  const set = config.worker.processor_timeout[type];
  const configured = set === undefined ? undefined : parseDuration(set);
  if (configured !== undefined) return configured;
  switch (type) {
    case "fix":
      return 3 * (parseDuration(config.fix.timeout) ?? 10 * MIN) + 15 * MIN;
    case "prompt_task":
      return tasks.reduce((sum, t) => sum + promptTaskLimitMs(config, t), 0) + 5 * MIN;
    case "tech_debt_analysis":
      return Math.max(DEFAULT_PROCESSOR_TIMEOUT_MS, tasks.length * 5 * MIN + 5 * MIN);
    default:
      return DEFAULT_PROCESSOR_TIMEOUT_MS;
  }
}

/** "timed out after N s": what a task given up on at the outer deadline records. */
export const timedOutReason = (type: TaskType, ms: number): string =>
  `timed out after ${Math.round(ms / 1000)} s (the ${type} processor's outer deadline, worker.processor_timeout.${type}); retried later`;

/** How long a processor given up on may take to unwind after its abort signal. */
export const ABORT_GRACE_MS = 5_000;

const noop = (): void => undefined;

/**
 * Calls `p.process` with an outer deadline (processorTimeoutMs, or `limitMs`). At the deadline the
 * call's signal (`ctx.signal`, also aborted when the caller's is) is aborted, the processor gets
 * ABORT_GRACE_MS to unwind, and every task gets `failed: timed out after N s`; whatever the call
 * returns later is discarded. A processor that throws is left to the caller, as before.
 */
export async function processWithDeadline(
  p: Processor,
  ctx: ProcessorContext,
  tasks: Task[],
  limitMs = processorTimeoutMs(p.type, ctx.config, tasks),
): Promise<Map<number, TaskOutcome>> {
  const controller = new AbortController();
  const outer = ctx.signal;
  let deadline: NodeJS.Timeout | undefined;
  let forward = noop;
  // The deadline, or the caller's own giving up (a wrapping call's deadline), whichever first.
  const timedOut = new Promise<"timed out">((resolve) => {
    deadline = setTimeout(() => resolve("timed out"), limitMs);
    forward = () => resolve("timed out");
    if (outer?.aborted) forward();
    else outer?.addEventListener("abort", forward, { once: true });
  });
  try {
    const work = p.process({ ...ctx, signal: controller.signal }, tasks);
    // Given up on, it may still settle later: that result is discarded, never unhandled.
    work.catch(noop);
    const result = await Promise.race([work, timedOut]);
    if (result !== "timed out") return result;
    const error = timedOutReason(p.type, limitMs);
    controller.abort(new Error(error));
    ctx.log.error(
      { type: p.type, tasks: tasks.map((t) => t.id), limitMs },
      "batch given up at its outer deadline",
    );
    // A short grace to unwind on the abort (kill its child processes, remove its temp dirs). When
    // the caller gave up first (this call is nested in the pass's), a shorter one, so this call's
    // outcome still reaches its caller within the caller's grace.
    const graceMs = outer?.aborted ? ABORT_GRACE_MS - 1_000 : ABORT_GRACE_MS;
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([
      work.then(noop, noop),
      new Promise<void>((resolve) => (grace = setTimeout(resolve, graceMs))),
    ]);
    clearTimeout(grace);
    return new Map(tasks.map((t) => [t.id, { status: "failed", error }]));
  } finally {
    clearTimeout(deadline);
    outer?.removeEventListener("abort", forward);
  }
}

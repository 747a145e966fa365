import type { RepoConfig } from "../config/schema.js";
import type { Task, TaskType } from "../store/tasks.js";
import { parseDuration } from "../util/duration.js";

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
 * - automerge and commands: 15 minutes.
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

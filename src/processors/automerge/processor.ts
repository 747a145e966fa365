import { z } from "zod";
import { rateLimitedUntil } from "../../integrations/github.js";
import type { Task } from "../../core/domain.js";
import type { Processor, ProcessorContext, TaskOutcome } from "../../core/worker-contract.js";
import type { PrResult } from "./decide.js";
import { taskOutcome } from "./decide.js";
import type { PrRun } from "./handle-pr.js";
import { handlePr } from "./handle-pr.js";
import type { MergeApi } from "./merge-api.js";
import { octokitMergeApi } from "./merge-api.js";
import { createPublisher } from "./publish.js";

/** After bg-agent merges into a base branch, other PRs for that base wait this long (one merge per base per pass). */
export const SETTLE_MS = 2 * 60_000;

export interface AutomergeProcessorOptions {
  settleMs?: number;
  now?: () => number;
  /** GitHub (and Linear) for one repository; default: over the context's Octokit. */
  api?: (ctx: ProcessorContext) => MergeApi;
}

export const prPayload = z.object({
  pr: z.number().int().positive(),
  headSha: z.string().optional(),
});
export const shaPayload = z.object({ headSha: z.string().regex(/^[0-9a-f]{7,64}$/i) });

/** PR numbers a task is about: `pr:<n>`, or the open PRs whose head is `sha:<sha>`. */
async function prsOf(api: MergeApi, task: Task): Promise<number[]> {
  if (task.source.startsWith("pr:")) return [prPayload.parse(task.payload).pr];
  if (task.source.startsWith("sha:"))
    return api.openPullsWithHead(shaPayload.parse(task.payload).headSha);
  throw new Error(`unknown automerge source "${task.source}": expected pr:<n> or sha:<sha>`);
}

/** Oldest PRs first: with one merge per base per pass, they go first. */
const oldestFirst = (tasks: readonly Task[]): Task[] => {
  const order = (t: Task) => Number(/^pr:(\d+)$/.exec(t.source)?.[1] ?? Number.MAX_SAFE_INTEGER);
  return [...tasks].sort((a, b) => order(a) - order(b));
};

/**
 * The `automerge` processor: evaluates PRs from GitHub state alone and merges the ones that are
 * provably ready (see docs/automerge.md). No LLM is involved. Per task: find its PRs, handle each
 * (handle-pr.ts), and turn their results into the task's outcome (decide.ts). Every GitHub write
 * goes through a MergeApi (merge-api.ts).
 */
export function createAutomergeProcessor(opts: AutomergeProcessorOptions = {}): Processor {
  const settleMs = opts.settleMs ?? SETTLE_MS;
  const now = opts.now ?? Date.now;
  const apiFor = opts.api ?? octokitMergeApi;
  const publish = createPublisher();

  async function processTask(
    ctx: ProcessorContext,
    api: MergeApi,
    task: Task,
  ): Promise<TaskOutcome> {
    const log = ctx.log.child({ task: task.id, source: task.source });
    let prs: number[];
    try {
      prs = await prsOf(api, task);
    } catch (e) {
      const bad = e instanceof z.ZodError || /unknown automerge source/.test((e as Error).message);
      return {
        status: "failed",
        error: `cannot read the task: ${(e as Error).message}`,
        permanent: bad,
      };
    }
    if (!prs.length)
      return { status: "done", result: { prs: [], note: "no open PR has this head" } };
    const run: PrRun = { ctx, api, task, publish, settleMs, now };
    const results: PrResult[] = [];
    let error: string | null = null;
    let limitedUntil: number | undefined;
    for (const n of prs) {
      try {
        results.push(await handlePr(run, n));
      } catch (e) {
        log.error({ err: e, pr: n }, "automerge evaluation failed");
        error = `PR #${n}: ${(e as Error).message}`;
        const until = rateLimitedUntil(e);
        if (until !== undefined) limitedUntil = Math.max(limitedUntil ?? 0, until);
      }
    }
    // A GitHub rate limit is a wait, not a failure: pending until it lifts, no attempt used.
    if (error && limitedUntil !== undefined) {
      return {
        status: "retry",
        at: limitedUntil,
        reason: `GitHub rate limit: ${error}; waits until ${new Date(limitedUntil).toISOString()}`,
      };
    }
    if (error) return { status: "failed", error };
    return taskOutcome(results);
  }

  return {
    type: "automerge",
    usesLlm: false,
    batchSize: () => 20,

    async sweep(ctx) {
      if (!ctx.config.automerge.enabled) return;
      const prs = await apiFor(ctx).openPulls();
      for (const pr of prs) {
        await ctx.store.tasks.enqueue({
          repo: ctx.repoName,
          type: "automerge",
          source: `pr:${pr.number}`,
          payload: { pr: pr.number, headSha: pr.headSha },
        });
      }
      ctx.log.debug({ count: prs.length }, "automerge sweep queued the open PRs");
    },

    async process(ctx, tasks) {
      const out = new Map<number, TaskOutcome>();
      if (!ctx.config.automerge.enabled) {
        for (const t of tasks)
          out.set(t.id, {
            status: "skipped",
            reason: "automerge is disabled (automerge.enabled: false)",
          });
        return out;
      }
      const api = apiFor(ctx);
      for (const task of oldestFirst(tasks)) out.set(task.id, await processTask(ctx, api, task));
      return out;
    },
  };
}

import { createAutomergeProcessor } from "../../src/processors/automerge/processor.js";
import type { AutomergeProcessorOptions } from "../../src/processors/automerge/processor.js";
import type { GitHubClient } from "../../src/integrations/github.js";
import type { Logger } from "../../src/log.js";
import type { Store } from "../../src/store/index.js";
import type { ProcessorContext, TaskOutcome } from "../../src/core/worker-contract.js";
import { testCtx } from "../helpers/context.js";
import { memoryStore } from "../helpers/store.js";
import { REPO } from "./fixtures.js";

export interface Setup {
  store: Store;
  ctx: ProcessorContext;
}

/** A store and a processor context for octo/demo (api.github.com unless `octokit` says otherwise). */
export async function setup(
  o: { config?: Record<string, unknown>; octokit?: GitHubClient; log?: Logger } = {},
): Promise<Setup> {
  const store = await memoryStore();
  const ctx = await testCtx(store, REPO, {
    config: o.config ?? {},
    ...(o.octokit ? { octokit: o.octokit } : {}),
    ...(o.log ? { log: o.log } : {}),
  });
  return { store, ctx };
}

/** Queues automerge tasks, claims them as the worker would, and runs one automerge batch. */
export async function runTasks(
  s: Setup,
  prs: number[],
  opts: AutomergeProcessorOptions = {},
): Promise<TaskOutcome[]> {
  for (const pr of prs)
    await s.store.tasks.enqueue({
      repo: REPO,
      type: "automerge",
      source: `pr:${pr}`,
      payload: { pr },
    });
  const claimed = await s.store.tasks.claim({
    owner: "test-worker",
    leaseMs: 60_000,
    limit: 50,
    repo: REPO,
  });
  const out = await createAutomergeProcessor(opts).process(s.ctx, claimed);
  return claimed.map((t) => out.get(t.id)!);
}

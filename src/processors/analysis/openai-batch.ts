import type { BatchApi, BatchJobState } from "../../llm/openai-batch.js";
import { createBatchApi } from "../../llm/openai-batch.js";
import type { Batch } from "../../store/batches.js";
import type { Store } from "../../store/index.js";
import { runSlot } from "../../core/run-state.js";
import type { ProcessorContext } from "../../core/worker-contract.js";
import { toItem } from "./item.js";
import { saveAnalysis } from "./record.js";
import { customIdOf } from "./submit-batch-api.js";
import { parseAnswer } from "./schema.js";

/** A job is polled at most this often per worker (the app's timer runs passes more often). */
export const POLL_EVERY_MS = 5 * 60_000;
const FAILED: readonly BatchJobState["status"][] = ["failed", "expired", "cancelled"];
/** When this run last polled each store batch. */
const LAST_POLL = runSlot("openai-batch-poll", () => new Map<number, number>());

/** Repositories with OpenAI batches to collect: the pass visits them although no task is due. */
export const batchDueRepos = async (store: Store): Promise<string[]> => [
  ...new Set(
    (await store.batches.submitted())
      .filter((b) => b.type === "tech_debt_analysis")
      .map((b) => b.repo),
  ),
];

/**
 * Polls the repository's submitted OpenAI batches. A completed job's answers are validated and
 * saved as analyses (paid for, not yet reported) and its tasks made due now: the pass then
 * reports them through the synchronous path's `record`, without a new call. A failed, expired
 * or cancelled job: the batch is marked failed and its tasks made due, to be analysed
 * synchronously. A job still running: nothing.
 */
export async function collectOpenAIBatches(ctx: ProcessorContext): Promise<void> {
  const pending = (await ctx.store.batches.submitted(ctx.repoName)).filter(
    (b) => b.type === "tech_debt_analysis" && b.externalId,
  );
  if (!pending.length) return;
  if (ctx.env.dryRun) {
    ctx.log.info(
      { batches: pending.map((b) => b.externalId) },
      `dry-run: would poll ${pending.length} OpenAI batch(es)`,
    );
    return;
  }
  let api: BatchApi;
  try {
    api = createBatchApi(ctx);
  } catch (e) {
    ctx.log.warn({ err: e }, "OpenAI batches cannot be polled now: the LLM is not usable");
    return;
  }
  const polls = ctx.env.run.memo(LAST_POLL);
  for (const b of pending) {
    const now = Date.now();
    if (now - (polls.get(b.id) ?? 0) < POLL_EVERY_MS) continue;
    polls.set(b.id, now);
    const log = ctx.log.child({ batch: b.externalId });
    try {
      const state = await api.poll(b.externalId!);
      if (state.status === "completed" || (FAILED.includes(state.status) && state.outputFileId)) {
        await collect(ctx, api, b, state);
      } else if (FAILED.includes(state.status)) {
        const error = `OpenAI batch ${b.externalId} ${state.status}${state.error ? `: ${state.error}` : ""}; its issues are analysed synchronously`;
        log.warn(error);
        await ctx.store.batches.finish(b.id, "failed", error);
        await ctx.store.tasks.wake(await ctx.store.batches.taskIds(b.id));
      } else {
        log.debug({ status: state.status }, "OpenAI batch still running");
      }
    } catch (e) {
      log.warn({ err: e }, "could not poll the OpenAI batch; trying again on a later pass");
    }
  }
}

async function collect(
  ctx: ProcessorContext,
  api: BatchApi,
  b: Batch,
  state: BatchJobState,
): Promise<void> {
  const results = state.outputFileId ? await api.collect(state.outputFileId) : new Map();
  const line = results.get(customIdOf(b.id));
  if (line) await ctx.store.batches.addUsage(b.id, line.usage);
  const ids = await ctx.store.batches.taskIds(b.id);
  const tasks = (await Promise.all(ids.map(async (id) => await ctx.store.tasks.get(id)))).filter(
    (t) => t !== undefined,
  );
  const parsed = line?.ok ? parseAnswer(line.content) : null;
  let ok = 0;
  const problems: string[] = [];
  for (const t of tasks) {
    const it = toItem(ctx, t);
    if (typeof it === "string") continue;
    const a = parsed?.items.get(it.key);
    if (!a) {
      problems.push(
        `${it.key}: ${parsed?.problems.get(it.key) ?? parsed?.error ?? (line && !line.ok ? line.error : "missing from the output")}`,
      );
      continue;
    }
    if (t.status !== "pending") continue;
    await saveAnalysis(ctx, it, a, b.id);
    ok++;
  }
  const error = problems.length
    ? `unusable in the batch output (analysed synchronously): ${problems.join("; ")}`
    : state.status === "completed"
      ? null
      : `OpenAI batch ${state.status}`;
  await ctx.store.batches.finish(
    b.id,
    problems.length ? (ok ? "partial" : "failed") : "done",
    error,
  );
  await ctx.store.tasks.wake(tasks.filter((t) => t.status === "pending").map((t) => t.id));
  ctx.log.info(
    { batch: b.externalId, ok, unusable: problems.length, usage: line?.usage },
    `OpenAI batch ${b.externalId} collected: ${ok} analysis(es) to report`,
  );
}

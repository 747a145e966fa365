import type { ProjectContext } from "../../context/project-context.js";
import { counterFor } from "../../llm/tokens.js";
import type { BatchApi } from "../../llm/openai-batch.js";
import { createBatchApi } from "../../llm/openai-batch.js";
import { errText } from "../../util/errors.js";
import type { ProcessorContext, TaskOutcome } from "../../core/worker-contract.js";
import { planBatches } from "./batches.js";
import { batchFiles } from "./issue-files.js";
import type { Item } from "./item.js";
import { analysisRequest } from "./prompt.js";
import type { RunReport } from "./run-report.js";
import type { Stop } from "./stop.js";
import { deferOutcome, stopNote, stopOf } from "./stop.js";

/** When tasks sent to the OpenAI Batch API come up again (collection wakes them sooner). */
export const BATCH_API_RETRY_MS = 60 * 60_000;
/** The custom_id of a store batch's request in an OpenAI Batch API file. */
export const customIdOf = (storeBatchId: number): string => `bgb-${storeBatchId}`;

/**
 * `tech_debt.openai_batch`: items never sent through the OpenAI Batch API are submitted there
 * (one JSONL line per planned batch, custom_id `bgb-<store batch id>`) and wait for a later run;
 * items of a job still running keep waiting; items whose job failed or expired, or whose answer
 * was unusable, go the synchronous way (returned as `sync`).
 */
export async function viaBatchApi(
  ctx: ProcessorContext,
  context: ProjectContext,
  items: Item[],
  mode: "json_schema" | "json_object",
  out: Map<number, TaskOutcome>,
  report: RunReport,
): Promise<{ sync: Item[]; stop: Stop | null }> {
  const ext = await ctx.store.batches.externalStatus(items.map((it) => it.task.id));
  const sync: Item[] = [];
  const fresh: Item[] = [];
  const now = Date.now();
  for (const it of items) {
    const e = ext.get(it.task.id);
    if (!e) fresh.push(it);
    else if (e.status === "submitted")
      out.set(it.task.id, {
        status: "retry",
        at: now + BATCH_API_RETRY_MS,
        reason: `waiting for OpenAI batch ${(await ctx.store.batches.get(e.batchId))?.externalId ?? e.batchId}`,
      });
    else sync.push(it);
  }
  if (!fresh.length) return { sync, stop: null };
  let api: BatchApi;
  try {
    api = createBatchApi(ctx);
  } catch (e) {
    ctx.log.warn({ err: e }, "OpenAI Batch API unavailable: analysing synchronously");
    return { sync: [...sync, ...fresh], stop: null };
  }
  let stop: Stop | null = null;
  const size = ctx.config.tech_debt.openai_batch_size;
  for (const batch of planBatches(fresh, ctx.config, context.tokens, counterFor(ctx), size)) {
    if (stop) {
      for (const it of batch) out.set(it.task.id, deferOutcome(stop));
      continue;
    }
    const batchId = await ctx.store.batches.start({
      repo: ctx.repoName,
      type: "tech_debt_analysis",
      provider: api.provider,
      model: api.model,
      taskIds: batch.map((b) => b.task.id),
    });
    try {
      const { externalId } = await api.submit([
        {
          customId: customIdOf(batchId),
          req: analysisRequest(
            context.text,
            batch.map((b) => b.prompt),
            mode,
            batchFiles(batch, ctx.config.tech_debt.context.issue_file_tokens).text,
          ),
        },
      ]);
      await ctx.store.batches.setExternalId(batchId, externalId);
      await ctx.store.batches.finish(batchId, "submitted");
      const at = Date.now() + BATCH_API_RETRY_MS;
      for (const it of batch)
        out.set(it.task.id, {
          status: "retry",
          at,
          reason: `submitted to the OpenAI Batch API as ${externalId} (half price); the result is collected on a later run`,
          handedOff: true,
        });
      const note = `${batch.length} issue(s) submitted to the OpenAI Batch API as ${externalId}: results are posted by a later run (within 24 hours).`;
      report.notes.push(note);
      ctx.log.info({ batch: externalId, issues: batch.map((b) => b.key) }, note);
    } catch (e) {
      stop = stopOf(e);
      if (stop) {
        await ctx.store.batches.finish(batchId, "failed", stopNote(stop));
        for (const it of batch) out.set(it.task.id, deferOutcome(stop));
        continue;
      }
      const error = `the OpenAI Batch API refused the batch: ${errText(e)}; analysing synchronously`;
      ctx.log.warn({ err: e }, error);
      await ctx.store.batches.finish(batchId, "failed", error);
      sync.push(...batch);
    }
  }
  return { sync, stop };
}

import { ZERO_USAGE } from "../../llm/usage.js";
import type { Task } from "../../core/domain.js";
import type { ProcessorContext, TaskOutcome } from "../../core/worker-contract.js";
import type { Item } from "./item.js";
import { share, toItem } from "./item.js";
import { record } from "./record.js";
import type { RunReport } from "./run-report.js";
import type { AnalysisItem } from "./schema.js";

/**
 * The claimed tasks that need an LLM call, as items. A bad payload fails its task for good; an
 * issue already analysed and posted at this content is skipped; one analysed but not posted (an
 * OpenAI batch's result, or a report that failed) is posted now from the store, without a call.
 * `collected`: the model of OpenAI Batch API results reported here, if any.
 */
export async function collectItems(
  ctx: ProcessorContext,
  tasks: Task[],
  out: Map<number, TaskOutcome>,
  report: RunReport,
): Promise<{ items: Item[]; collected: string | null }> {
  const items: Item[] = [];
  let collected: string | null = null;
  for (const t of tasks) {
    const it = toItem(ctx, t);
    if (typeof it === "string") {
      out.set(t.id, { status: "failed", error: it, permanent: true });
      continue;
    }
    const prev = await ctx.store.analyses.get(it.key);
    if (
      prev &&
      prev.contentHash === it.hash &&
      prev.repo.toLowerCase() === ctx.repoName.toLowerCase()
    ) {
      if (prev.commentUrl) {
        out.set(t.id, { status: "skipped", reason: "already analysed at this content" });
        continue;
      }
      if (!ctx.env.dryRun) {
        // Paid for already (an OpenAI batch's result, or the report failed last time): post it
        // without a new call.
        const a: AnalysisItem = {
          issue: prev.key,
          should_fix: prev.shouldFix,
          complexity: prev.complexity,
          plan: prev.plan,
          affected_files: prev.affectedFiles,
        };
        const b = prev.batchId !== null ? await ctx.store.batches.get(prev.batchId) : undefined;
        const viaBatchApi = !!b?.externalId;
        const o = viaBatchApi
          ? await record(ctx, it, a, b.id, share(b, Math.max(1, b.items)), b.model ?? "unknown")
          : await record(ctx, it, a, prev.batchId, ZERO_USAGE, "stored analysis");
        out.set(t.id, o);
        if (viaBatchApi) {
          collected = b.model ?? collected;
          report.issues.push(
            o.status === "done"
              ? {
                  key: it.key,
                  ...(it.payload.url ? { url: it.payload.url } : {}),
                  verdict: a.should_fix ? "should fix" : "won't fix",
                  complexity: a.complexity,
                  note: `OpenAI batch ${b.externalId}`,
                }
              : { key: it.key, verdict: "failed", note: o.status === "failed" ? o.error : "" },
          );
        }
        continue;
      }
    }
    items.push(it);
  }
  return { items, collected };
}

import { projectContext } from "../../context/project-context.js";
import { counterFor } from "../../llm/tokens.js";
import type { ProjectContext } from "../../context/project-context.js";
import { estimateCost } from "../../llm/budget.js";
import { structuredModeOf } from "../../llm/client.js";
import { priceFor } from "../../llm/pricing.js";
import { DEFAULT_PROVIDER, PROVIDER_TABLE } from "../../llm/providers.js";
import type { ProcessorContext, TaskOutcome } from "../../core/worker-contract.js";
import { planBatches } from "./batches.js";
import type { Item } from "./item.js";
import { analysisRequest } from "./prompt.js";

/** Dry-run: reads only, calls no LLM, writes nothing; says what would be analysed and for how much. */
export async function dryRun(
  ctx: ProcessorContext,
  items: Item[],
  out: Map<number, TaskOutcome>,
): Promise<void> {
  let context: ProjectContext | null = null;
  try {
    context = await projectContext(ctx);
  } catch (e) {
    ctx.log.warn({ err: e }, "dry-run: could not read the project context; estimates leave it out");
  }
  const settings = ctx.env.llm;
  const provider = settings instanceof Error ? DEFAULT_PROVIDER : settings.provider;
  const model =
    ctx.config.llm.model ??
    (settings instanceof Error ? PROVIDER_TABLE[DEFAULT_PROVIDER].preset.model : settings.model);
  const { price } = priceFor(provider, model, ctx.config.llm.pricing, ctx.log);
  const mode = structuredModeOf({
    provider,
    structuredOutput: settings instanceof Error ? undefined : settings.structuredOutput,
  });
  const batches = planBatches(items, ctx.config, context?.tokens ?? 0, counterFor(ctx));
  let total = 0;
  batches.forEach((batch, i) => {
    const est = estimateCost(
      analysisRequest(
        context?.text ?? "",
        batch.map((b) => b.prompt),
        mode,
      ),
      price,
      1,
      counterFor(ctx),
    );
    total += est;
    const line = `dry-run: batch ${i + 1} of ${batches.length} would analyse ${batch.length} issue(s) with ${provider}/${model}, at most ~$${est.toFixed(4)}: ${batch.map((b) => b.key).join(", ")}`;
    ctx.log.info({ batch: i + 1, issues: batch.map((b) => b.key), estimateUsd: est }, line);
    for (const it of batch) {
      out.set(it.task.id, {
        status: "skipped",
        reason: `dry-run: would analyse in batch ${i + 1} of ${batches.length} (at most ~$${est.toFixed(4)} for the batch)`,
      });
    }
  });
  if (settings instanceof Error)
    ctx.log.warn(`dry-run: the LLM is not usable: ${settings.message}`);
  ctx.log.info(
    {
      batches: batches.length,
      issues: items.length,
      estimateUsd: total,
      contextTokens: context?.tokens ?? 0,
    },
    `dry-run: ${items.length} issue(s) in ${batches.length} call(s), estimated at most $${total.toFixed(4)} (context ~${context?.tokens ?? 0} tokens, cached after the first call)`,
  );
}

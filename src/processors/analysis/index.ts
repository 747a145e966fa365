import type { Processor } from "../../core/worker-contract.js";
import { claimSize } from "./batches.js";
import { batchDueRepos, collectOpenAIBatches } from "./openai-batch.js";
import { processAnalysis } from "./process.js";
import { sweepAnalysis } from "./sweep.js";

/** `tech_debt_analysis`: batched LLM analysis of tech-debt issues (GitHub and Linear). */
export function createAnalysisProcessor(): Processor {
  return {
    type: "tech_debt_analysis",
    usesLlm: true,
    batchSize: claimSize,
    /** Results of OpenAI Batch API jobs (tech_debt.openai_batch) are collected before claiming. */
    async prepare(ctx) {
      await collectOpenAIBatches(ctx);
    },
    dueRepos: batchDueRepos,
    async sweep(ctx) {
      await sweepAnalysis(ctx);
    },
    process: processAnalysis,
  };
}

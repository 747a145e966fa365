import type { ProcessorContext } from "../core/worker-contract.js";
import { createLlm } from "./client.js";
import type { Llm } from "./types.js";

/**
 * The repository's LLM client (tests inject one through env.createLlm). Every call first runs the
 * pass's check (`ctx.beforeLlm`: people active, a manual pause), which throws PausedError when
 * the work must wait, so nothing is sent.
 */
export const llmFor = (ctx: ProcessorContext): Llm => {
  const inner = (ctx.env.createLlm ?? createLlm)(ctx);
  const gate = ctx.beforeLlm;
  if (!gate) return inner;
  return {
    provider: inner.provider,
    model: inner.model,
    async chat(req) {
      await gate();
      return inner.chat(req);
    },
  };
};

import type { ProcessorContext } from "../core/worker-contract.js";
import { createLlm } from "./client.js";
import type { Llm } from "./types.js";

/**
 * The repository's LLM client (tests inject one through env.createLlm). Every call first runs the
 * pass's check (`ctx.beforeLlm`: people active, a manual pause), which throws PausedError when
 * the work must wait, so nothing is sent. `o.model`: another model than the repository's (the
 * background model).
 */
export const llmFor = (ctx: ProcessorContext, o: { model?: string } = {}): Llm => {
  const inner = (ctx.env.createLlm ?? createLlm)(ctx, o);
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

import type { ProcessorContext } from "../worker/types.js";
import { createLlm } from "./client.js";
import type { Llm } from "./types.js";

/** The repository's LLM client (tests inject one through env.createLlm). */
export const llmFor = (ctx: ProcessorContext): Llm => (ctx.env.createLlm ?? createLlm)(ctx);

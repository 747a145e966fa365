import type { ProcessorContext } from "../worker/types.js";
import type { Llm } from "./types.js";

/** A repository's LLM client: budget checked before each call, rate limited, usage recorded. */
export function createLlm(_ctx: ProcessorContext): Llm {
  throw new Error("not implemented yet");
}

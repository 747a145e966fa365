import { DEFAULT_COUNTER } from "../../llm/tokens.js";

/**
 * Tokens of `text` for the map's budget: the shared tokenizer's default counter (src/llm/tokens.ts,
 * OpenAI's o200k encoding; the map is byte-stable across providers, so it is cut by one count).
 */
export function countTokens(text: string): number {
  return DEFAULT_COUNTER.count(text);
}

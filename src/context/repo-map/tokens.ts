import { countTokens as o200k } from "gpt-tokenizer";

const NO_SPECIALS = { disallowedSpecial: new Set<string>() };

/**
 * Tokens of `text` for the map's budget (OpenAI's o200k encoding; close enough for the other
 * providers' budgets). The one place the repository map counts, so it can be swapped for the
 * shared tokenizer in src/llm. Special-token text (`<|endoftext|>`) in a file counts as text.
 */
export function countTokens(text: string): number {
  return o200k(text, NO_SPECIALS);
}

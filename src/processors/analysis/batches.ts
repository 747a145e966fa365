import type { RepoConfig } from "../../config/schema.js";
import {
  MAX_OUTPUT_TOKENS,
  OUTPUT_TOKENS_BASE,
  OUTPUT_TOKENS_PER_ISSUE,
  SYSTEM_PROMPT,
} from "./prompt.js";
import { PREFIX_RULES } from "../../context/prefix.js";
import type { TokenCounter } from "../../llm/tokens.js";
import { DEFAULT_COUNTER } from "../../llm/tokens.js";
import { ANALYSIS_JSON_SCHEMA } from "./schema.js";

/**
 * Prompt tokens around the context and issues, by the model's tokenizer: the rules, the
 * instructions, the JSON schema, the user message's header (keys included) and the chat framing.
 */
export function fixedOverheadTokens(counter: TokenCounter = DEFAULT_COUNTER): number {
  return (
    counter.count(PREFIX_RULES) +
    counter.count(SYSTEM_PROMPT) +
    counter.count(JSON.stringify(ANALYSIS_JSON_SCHEMA)) +
    FRAMING_TOKENS
  );
}
/** The context's delimiters, the message framing and the user message's header with its keys. */
const FRAMING_TOKENS = 200;

/**
 * How many tasks the worker claims at once: `tech_debt.batch_size` (the larger
 * `tech_debt.openai_batch_size` when the OpenAI Batch API is asked for), capped so that even small
 * issues fit `max_tokens_per_call` next to the context. Real sizes are split in planBatches.
 */
export function claimSize(config: RepoConfig): number {
  const t = config.tech_debt;
  const size = t.openai_batch ? Math.max(t.batch_size, t.openai_batch_size) : t.batch_size;
  const room =
    t.max_tokens_per_call - t.context.max_tokens - fixedOverheadTokens() - OUTPUT_TOKENS_BASE;
  const perIssue = OUTPUT_TOKENS_PER_ISSUE + 100;
  const outputCap = Math.floor((MAX_OUTPUT_TOKENS - OUTPUT_TOKENS_BASE) / OUTPUT_TOKENS_PER_ISSUE);
  return Math.max(1, Math.min(size, outputCap, Math.floor(room / perIssue)));
}

/**
 * Splits items (in order) into calls: at most `maxIssues` issues (`batch_size`; the Batch API
 * passes `openai_batch_size`), within `max_tokens_per_call` (context + instructions + issues +
 * the output allowance), within the output cap. Items' `tokens` and `contextTokens` are counted
 * by the same tokenizer as `counter`.
 */
export function planBatches<T extends { tokens: number }>(
  items: T[],
  config: RepoConfig,
  contextTokens: number,
  counter: TokenCounter = DEFAULT_COUNTER,
  maxIssues: number = config.tech_debt.batch_size,
): T[][] {
  const t = config.tech_debt;
  const fixed = contextTokens + fixedOverheadTokens(counter);
  const out: T[][] = [];
  let cur: T[] = [];
  let curTokens = 0;
  for (const it of items) {
    const n = cur.length + 1;
    const output = OUTPUT_TOKENS_BASE + OUTPUT_TOKENS_PER_ISSUE * n;
    const full =
      cur.length > 0 &&
      (cur.length >= maxIssues ||
        fixed + curTokens + it.tokens + output > t.max_tokens_per_call ||
        output > MAX_OUTPUT_TOKENS);
    if (full) {
      out.push(cur);
      cur = [];
      curTokens = 0;
    }
    cur.push(it);
    curTokens += it.tokens;
  }
  if (cur.length) out.push(cur);
  return out;
}

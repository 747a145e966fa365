import type { RepoConfig } from "../../config/schema.js";
import {
  MAX_OUTPUT_TOKENS,
  OUTPUT_TOKENS_BASE,
  OUTPUT_TOKENS_PER_ISSUE,
  SYSTEM_PROMPT,
} from "./prompt.js";
import { PREFIX_RULES } from "../../context/prefix.js";

/** Prompt tokens around the context and issues: instructions, schema, framing. */
export const FIXED_OVERHEAD_TOKENS =
  Math.ceil((PREFIX_RULES.length + SYSTEM_PROMPT.length) / 4) + 400;

/**
 * How many tasks the worker claims at once: `tech_debt.batch_size`, capped so that even small
 * issues fit `max_tokens_per_call` next to the context. Real sizes are split in planBatches.
 */
export function claimSize(config: RepoConfig): number {
  const t = config.tech_debt;
  const room =
    t.max_tokens_per_call - t.context.max_tokens - FIXED_OVERHEAD_TOKENS - OUTPUT_TOKENS_BASE;
  const perIssue = OUTPUT_TOKENS_PER_ISSUE + 100;
  const outputCap = Math.floor((MAX_OUTPUT_TOKENS - OUTPUT_TOKENS_BASE) / OUTPUT_TOKENS_PER_ISSUE);
  return Math.max(1, Math.min(t.batch_size, outputCap, Math.floor(room / perIssue)));
}

/**
 * Splits items (in order) into calls: at most `batch_size` issues, within `max_tokens_per_call`
 * (context + instructions + issues + the output allowance), within the output cap.
 */
export function planBatches<T extends { tokens: number }>(
  items: T[],
  config: RepoConfig,
  contextTokens: number,
): T[][] {
  const t = config.tech_debt;
  const fixed = contextTokens + FIXED_OVERHEAD_TOKENS;
  const out: T[][] = [];
  let cur: T[] = [];
  let curTokens = 0;
  for (const it of items) {
    const n = cur.length + 1;
    const output = OUTPUT_TOKENS_BASE + OUTPUT_TOKENS_PER_ISSUE * n;
    const full =
      cur.length > 0 &&
      (cur.length >= t.batch_size ||
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

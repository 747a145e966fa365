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
 * Issues per call: `tech_debt.batch_size` (the larger `tech_debt.openai_batch_size` when the
 * OpenAI Batch API is asked for), capped so that even small issues fit `max_tokens_per_call`
 * next to the context and their answers fit the output cap.
 */
export function callSize(config: RepoConfig): number {
  const t = config.tech_debt;
  const size = t.openai_batch ? Math.max(t.batch_size, t.openai_batch_size) : t.batch_size;
  const room =
    t.max_tokens_per_call - t.context.max_tokens - fixedOverheadTokens() - OUTPUT_TOKENS_BASE;
  const perIssue = OUTPUT_TOKENS_PER_ISSUE + 100;
  const outputCap = Math.floor((MAX_OUTPUT_TOKENS - OUTPUT_TOKENS_BASE) / OUTPUT_TOKENS_PER_ISSUE);
  return Math.max(1, Math.min(size, outputCap, Math.floor(room / perIssue)));
}

/**
 * Calls' worth of issues the worker claims at once, so that planBatches can put issues naming
 * the same files into the same call (a file is sent once per call that needs it). Pausing and the
 * budget are still checked before every call.
 */
export const PLANNED_CALLS = 10;

/** How many tasks the worker claims at once: PLANNED_CALLS calls' worth (callSize), at most 100. */
export function claimSize(config: RepoConfig): number {
  return Math.min(100, callSize(config) * PLANNED_CALLS);
}

/** What planning needs of an item: its tokens (named files included) and the files it names. */
export interface Plannable {
  tokens: number;
  namedFiles?: readonly { path: string }[];
}

/**
 * Groups of items that name a file in common (directly or through one another), each group in
 * the items' order, the groups ordered by their first item.
 */
function groupsBySharedFiles<T extends Plannable>(items: readonly T[]): T[][] {
  const parent = items.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]!]!;
    return i;
  };
  const firstNamer = new Map<string, number>();
  items.forEach((it, i) => {
    for (const f of it.namedFiles ?? []) {
      const j = firstNamer.get(f.path);
      if (j === undefined) firstNamer.set(f.path, i);
      else parent[find(i)] = find(j);
    }
  });
  const groups = new Map<number, T[]>();
  items.forEach((it, i) => {
    const r = find(i);
    const g = groups.get(r);
    if (g) g.push(it);
    else groups.set(r, [it]);
  });
  return [...groups.values()];
}

/**
 * Splits items into calls: at most `maxIssues` issues (`batch_size`; the Batch API passes
 * `openai_batch_size`), within `max_tokens_per_call` (context + instructions + issues + the
 * output allowance), within the output cap. Items naming the same files go into the same call
 * where they fit (a file is then sent once, not once per call): the groups of items sharing
 * files are placed largest first into the first call with room (first-fit decreasing into the
 * fewest calls the issue count allows; a group that fits no call whole is split into the room
 * there is, one larger than a call cut in order). Each call lists its items in their original
 * order; calls are ordered by their first item. Items' `tokens` and `contextTokens` are counted
 * by the same tokenizer as `counter`.
 */
export function planBatches<T extends Plannable>(
  items: T[],
  config: RepoConfig,
  contextTokens: number,
  counter: TokenCounter = DEFAULT_COUNTER,
  maxIssues: number = config.tech_debt.batch_size,
): T[][] {
  const t = config.tech_debt;
  const fixed = contextTokens + fixedOverheadTokens(counter);
  const index = new Map(items.map((it, i) => [it, i]));
  type Bin = { items: T[]; tokens: number };
  const fits = (bin: Bin, add: readonly T[]): boolean => {
    if (bin.items.length === 0 && add.length === 1) return true; // too large alone: its own call
    const n = bin.items.length + add.length;
    const output = OUTPUT_TOKENS_BASE + OUTPUT_TOKENS_PER_ISSUE * n;
    const tokens = add.reduce((sum, it) => sum + it.tokens, 0);
    return (
      n <= maxIssues &&
      fixed + bin.tokens + tokens + output <= t.max_tokens_per_call &&
      output <= MAX_OUTPUT_TOKENS
    );
  };
  // Groups larger than a call are cut into call-sized runs, in order.
  const chunks: T[][] = [];
  for (const g of groupsBySharedFiles(items))
    for (let i = 0; i < g.length; i += maxIssues) chunks.push(g.slice(i, i + maxIssues));
  chunks.sort((a, b) => b.length - a.length || index.get(a[0]!)! - index.get(b[0]!)!);
  // As few calls as the issue count allows: a call costs its whole (cached) prefix, more than
  // a file sent twice, so a group no call has room for is split into the room there is.
  const bins: Bin[] = Array.from({ length: Math.ceil(items.length / maxIssues) }, () => ({
    items: [],
    tokens: 0,
  }));
  const put = (bin: Bin, add: readonly T[]): void => {
    for (const it of add) {
      bin.items.push(it);
      bin.tokens += it.tokens;
    }
  };
  for (const chunk of chunks) {
    const whole = bins.find((b) => fits(b, chunk));
    if (whole) {
      put(whole, chunk);
      continue;
    }
    for (const it of chunk) {
      let bin = bins.find((b) => fits(b, [it]));
      if (!bin) bins.push((bin = { items: [], tokens: 0 }));
      put(bin, [it]);
    }
  }
  for (const b of bins) b.items.sort((x, y) => index.get(x)! - index.get(y)!);
  return bins
    .filter((b) => b.items.length > 0)
    .map((b) => b.items)
    .sort((a, b) => index.get(a[0]!)! - index.get(b[0]!)!);
}

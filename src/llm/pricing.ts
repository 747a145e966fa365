import type { RepoConfig } from "../config/schema.js";
import type { Logger } from "../log.js";
import type { ProviderName } from "./types.js";

/** USD per million tokens. */
export interface Price {
  input: number;
  cachedInput: number;
  output: number;
  /**
   * A cached input token in an OpenAI Batch API request, the batch discount included. Unset:
   * the less favourable reading (batchCachedRate).
   */
  batchCachedInput?: number;
  /** Storage of an explicit context cache (Gemini), per million tokens and hour. */
  cacheStoragePerHour?: number;
}

/**
 * Public list prices (USD per 1M tokens) as of 2025. Keys are `provider:model`; a model served
 * through another provider (gemini through openai-compatible, say) is found by model name too.
 * Override per repository with `llm.pricing` in .github/bg-agent.yml.
 */
export const PRICES: Readonly<Record<string, Price>> = {
  "openai:gpt-4o-mini": { input: 0.15, cachedInput: 0.075, output: 0.6 },
  "openai:gpt-4o": { input: 2.5, cachedInput: 1.25, output: 10 },
  "openai:gpt-4.1": { input: 2, cachedInput: 0.5, output: 8 },
  "openai:gpt-4.1-mini": { input: 0.4, cachedInput: 0.1, output: 1.6 },
  "openai:gpt-4.1-nano": { input: 0.1, cachedInput: 0.025, output: 0.4 },
  // DeepSeek V3.2 (deepseek-chat), since 2025-09-29: cache miss, cache hit, output.
  "deepseek:deepseek-chat": { input: 0.28, cachedInput: 0.028, output: 0.42 },
  "gemini:gemini-2.0-flash": {
    input: 0.1,
    cachedInput: 0.025,
    output: 0.4,
    cacheStoragePerHour: 1,
  },
  "gemini:gemini-2.0-flash-lite": {
    input: 0.075,
    cachedInput: 0.01875,
    output: 0.3,
    cacheStoragePerHour: 1,
  },
};

/** For a model bg-agent does not know: deliberately expensive, so budgets stop early rather than late. */
export const DEFAULT_PRICE: Price = { input: 5, cachedInput: 5, output: 20 };

/** Explicit cache storage when the price does not say: Gemini Flash's list price ($1 per 1M tokens and hour). */
export const DEFAULT_CACHE_STORAGE_PER_HOUR = 1;

/** The OpenAI Batch API costs half the synchronous price (input and output). */
export const BATCH_DISCOUNT = 0.5;

/**
 * USD per million cached input tokens in an OpenAI Batch API request. Batch requests do read
 * the prompt cache (OpenAI's Batch object reports `usage.input_tokens_details.cached_tokens`
 * for batches created after 2025-09-07), but whether the cached-input discount stacks with the
 * batch discount is a per-model line of OpenAI's pricing page (reported for the GPT-5 family),
 * not a rule bg-agent can rely on for gpt-4o or gpt-4.1. So, unless the price says
 * (`batchCachedInput`, `llm.pricing.<model>.batch_cached_input`), a cached batch token is
 * priced at the less favourable of the two readings: its cached price (the cache discount
 * instead of the batch one) or the batch input price (no cache discount). The budget then never
 * counts less than OpenAI bills. gpt-4o-mini: both are $0.075; gpt-4.1: $1.00, not $0.25.
 */
export const batchCachedRate = (price: Price): number =>
  price.batchCachedInput ?? Math.max(price.cachedInput, price.input * BATCH_DISCOUNT);

/** The cost of an OpenAI Batch API line's tokens (`promptTokens` includes `cachedTokens`). */
export function batchCostOf(
  t: { promptTokens: number; cachedTokens: number; completionTokens: number },
  price: Price,
): number {
  const cached = Math.min(t.cachedTokens, t.promptTokens);
  const uncached = Math.max(0, t.promptTokens - cached);
  return (
    ((uncached * price.input + t.completionTokens * price.output) * BATCH_DISCOUNT +
      cached * batchCachedRate(price)) /
    1_000_000
  );
}

const warned = new Set<string>();

export interface PriceLookup {
  price: Price;
  /** Where the price came from. */
  source: "config" | "table" | "default";
}

/**
 * The price of a model: the repository's `llm.pricing` (keyed `provider:model` or `model`) first,
 * then the table, then a conservative default with one warning per process and model.
 */
export function priceFor(
  provider: ProviderName,
  model: string,
  overrides: RepoConfig["llm"]["pricing"] = {},
  log?: Logger,
): PriceLookup {
  const o = overrides[`${provider}:${model}`] ?? overrides[model];
  if (o)
    return {
      price: {
        input: o.input,
        cachedInput: o.cached_input,
        output: o.output,
        ...(o.batch_cached_input !== undefined ? { batchCachedInput: o.batch_cached_input } : {}),
      },
      source: "config",
    };
  const t =
    PRICES[`${provider}:${model}`] ??
    Object.entries(PRICES).find(([k]) => k.slice(k.indexOf(":") + 1) === model)?.[1];
  if (t) return { price: t, source: "table" };
  const key = `${provider}:${model}`;
  if (!warned.has(key)) {
    warned.add(key);
    log?.warn(
      { provider, model, price: DEFAULT_PRICE },
      `no price known for ${key}: using a conservative default ($${DEFAULT_PRICE.input}/$${DEFAULT_PRICE.output} per 1M tokens in/out); set llm.pricing in .github/bg-agent.yml`,
    );
  }
  return { price: DEFAULT_PRICE, source: "default" };
}

/** The cost of a call's tokens. `promptTokens` includes `cachedTokens`. */
export function costOf(
  t: { promptTokens: number; cachedTokens: number; completionTokens: number },
  price: Price,
  factor = 1,
): number {
  const uncached = Math.max(0, t.promptTokens - t.cachedTokens);
  return (
    ((uncached * price.input +
      t.cachedTokens * price.cachedInput +
      t.completionTokens * price.output) /
      1_000_000) *
    factor
  );
}

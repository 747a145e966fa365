import { z } from "zod";
import type { Usage } from "../core/domain.js";
import type { Price } from "./pricing.js";
import { costOf } from "./pricing.js";
import type { ProviderName } from "./providers.js";
import { providerSpec } from "./providers.js";

const usageSchema = z.object({
  prompt_tokens: z.number().int().min(0).optional(),
  completion_tokens: z.number().int().min(0).optional(),
  prompt_tokens_details: z.object({ cached_tokens: z.number().int().min(0).nullish() }).nullish(),
  // DeepSeek
  prompt_cache_hit_tokens: z.number().int().min(0).optional(),
  prompt_cache_miss_tokens: z.number().int().min(0).optional(),
});

/**
 * Reads a response's token usage the way each provider reports it (PROVIDER_TABLE's
 * `cachedTokensField`): OpenAI (and Gemini's OpenAI-compatible endpoint) in
 * `prompt_tokens_details.cached_tokens`, DeepSeek in `prompt_cache_hit_tokens` /
 * `prompt_cache_miss_tokens` (read whenever present). Missing usage reads as zero.
 * A response that references a Gemini explicit cache reports it in the same OpenAI field.
 */
export function readUsage(
  provider: ProviderName,
  raw: unknown,
  price: Price,
  factor = 1,
  /**
   * Tokens the call read from an explicit cache it referenced (Gemini's cachedContents): when the
   * response does not report cached tokens, these are (explicit caches are not best effort).
   */
  knownCached = 0,
): Usage {
  const p = usageSchema.safeParse(raw ?? {});
  const u = p.success ? p.data : {};
  let promptTokens = u.prompt_tokens ?? 0;
  let cachedTokens = u.prompt_tokens_details?.cached_tokens ?? 0;
  const hitMiss = providerSpec(provider).cachedTokensField === "prompt_cache_hit_tokens";
  if (hitMiss || u.prompt_cache_hit_tokens !== undefined) {
    const hit = u.prompt_cache_hit_tokens ?? cachedTokens;
    const miss = u.prompt_cache_miss_tokens ?? Math.max(0, promptTokens - hit);
    cachedTokens = hit;
    promptTokens = Math.max(promptTokens, hit + miss);
  }
  if (!cachedTokens && knownCached) cachedTokens = knownCached;
  cachedTokens = Math.min(cachedTokens, promptTokens);
  const completionTokens = u.completion_tokens ?? 0;
  const t = { promptTokens, cachedTokens, completionTokens };
  return { ...t, costUsd: costOf(t, price, factor) };
}

export const addUsage = (a: Usage, b: Usage): Usage => ({
  promptTokens: a.promptTokens + b.promptTokens,
  cachedTokens: a.cachedTokens + b.cachedTokens,
  completionTokens: a.completionTokens + b.completionTokens,
  costUsd: a.costUsd + b.costUsd,
});

export const ZERO_USAGE: Usage = {
  promptTokens: 0,
  cachedTokens: 0,
  completionTokens: 0,
  costUsd: 0,
};

import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { parseBatchOutput } from "../../src/llm/batch-output.js";
import { PRICES, batchCachedRate, batchCostOf, costOf, priceFor } from "../../src/llm/pricing.js";

/** One output-file line of a completed Batch API request with this usage. */
const line = (customId: string, prompt: number, cached: number, completion: number): string =>
  JSON.stringify({
    id: `batch_req_${customId}`,
    custom_id: customId,
    response: {
      status_code: 200,
      request_id: "req_1",
      body: {
        id: "chatcmpl-1",
        object: "chat.completion",
        created: 1,
        model: "gpt-4o-mini",
        choices: [{ index: 0, message: { role: "assistant", content: "{}" } }],
        usage: {
          prompt_tokens: prompt,
          completion_tokens: completion,
          prompt_tokens_details: { cached_tokens: cached },
        },
      },
    },
    error: null,
  });

describe("OpenAI Batch API prices", () => {
  it("halves uncached input and output", () => {
    const p = PRICES["openai:gpt-4o-mini"]!;
    const t = { promptTokens: 10_000, cachedTokens: 0, completionTokens: 1_000 };
    expect(batchCostOf(t, p)).toBeCloseTo(costOf(t, p) / 2, 12);
  });

  it("prices a cached batch token at the higher of its cached price and the batch input price", () => {
    // gpt-4o-mini: cached $0.075 = half of $0.15, so a cache hit saves nothing in a batch.
    const mini = PRICES["openai:gpt-4o-mini"]!;
    expect(batchCachedRate(mini)).toBeCloseTo(0.075, 12);
    // gpt-4.1: cached $0.50, batch input $1.00: $1.00 (not $0.25 as if the discounts stacked).
    const g41 = PRICES["openai:gpt-4.1"]!;
    expect(batchCachedRate(g41)).toBeCloseTo(1, 12);
    const t = { promptTokens: 1_000_000, cachedTokens: 800_000, completionTokens: 0 };
    expect(batchCostOf(t, g41)).toBeCloseTo(0.2 * 1 + 0.8 * 1, 12);
    // Never less than the synchronous price with the cache, halved (the stacked reading).
    expect(batchCostOf(t, g41)).toBeGreaterThan(costOf(t, g41) / 2);
  });

  it("uses llm.pricing batch_cached_input when a repository sets it", () => {
    const parsed = parseConfig({
      llm: {
        pricing: {
          "gpt-4.1": { input: 2, cached_input: 0.5, output: 8, batch_cached_input: 0.25 },
        },
      },
    });
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
    const { price } = priceFor("openai", "gpt-4.1", parsed.config.llm.pricing);
    expect(price.batchCachedInput).toBe(0.25);
    const t = { promptTokens: 1_000_000, cachedTokens: 800_000, completionTokens: 0 };
    expect(batchCostOf(t, price)).toBeCloseTo(0.2 * 1 + 0.8 * 0.25, 12);
  });

  it("records an output line's cached tokens at that price", () => {
    const g41 = PRICES["openai:gpt-4.1"]!;
    const out = parseBatchOutput(`${line("bgb-1", 20_000, 18_000, 2_000)}\n`, g41, "openai");
    const r = out.get("bgb-1")!;
    expect(r.ok).toBe(true);
    expect(r.usage).toMatchObject({
      promptTokens: 20_000,
      cachedTokens: 18_000,
      completionTokens: 2_000,
    });
    // 2,000 uncached at $1, 18,000 cached at $1, 2,000 output at $4 (per million).
    expect(r.usage.costUsd).toBeCloseTo((2_000 * 1 + 18_000 * 1 + 2_000 * 4) / 1e6, 12);
  });
});

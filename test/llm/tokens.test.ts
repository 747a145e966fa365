import { encode as cl100k } from "gpt-tokenizer/encoding/cl100k_base";
import { encode as o200k, encodeChat } from "gpt-tokenizer/encoding/o200k_base";
import nock from "nock";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { estimateCost } from "../../src/llm/budget.js";
import { PRICES } from "../../src/llm/pricing.js";
import { APPROX_FACTORS, encodingOf, tokenCounterFor } from "../../src/llm/tokens.js";
import { planBatches } from "../../src/processors/analysis/batches.js";
import { issueTokens } from "../../src/processors/analysis/prompt.js";

const CODE = `export function parseBar(input: string): Bar | null {\n  const m = /^(\\w+)=(\\d+)$/.exec(input.trim());\n  return m ? { name: m[1]!, value: Number(m[2]) } : null;\n}\n`;
const PROSE =
  "The worker leases a task, runs it and records the outcome; a crashed worker's lease expires and the task is retried with backoff.";

describe("token counts", () => {
  it("match gpt-tokenizer for OpenAI models, in the model's encoding", () => {
    for (const text of [CODE, PROSE, CODE.repeat(400), "hi <|endoftext|> there"]) {
      const asText = { disallowedSpecial: new Set<string>() };
      expect(tokenCounterFor("openai", "gpt-4o-mini").count(text)).toBe(o200k(text, asText).length);
      expect(tokenCounterFor("openai", "gpt-5").count(text)).toBe(o200k(text, asText).length);
      expect(tokenCounterFor("openai", "gpt-4").count(text)).toBe(cl100k(text, asText).length);
    }
    expect(encodingOf("gpt-4.1-mini")).toBe("o200k_base");
    expect(encodingOf("o3-mini")).toBe("o200k_base");
    expect(encodingOf("gpt-3.5-turbo")).toBe("cl100k_base");
    // A model behind an openai-compatible server is counted by its name.
    expect(tokenCounterFor("openai-compatible", "gpt-4o").exact).toBe(true);
  });

  it("count a chat request within a few tokens of gpt-tokenizer's encodeChat", () => {
    const messages = [
      { role: "system" as const, content: PROSE.repeat(30) },
      { role: "user" as const, content: CODE },
    ];
    const n = tokenCounterFor("openai", "gpt-4o").prompt({ messages });
    expect(Math.abs(n - encodeChat(messages, "gpt-4o").length)).toBeLessThanOrEqual(8);
  });

  it("approximate the other families as o200k_base times their documented factor", () => {
    const text = CODE.repeat(50);
    const base = o200k(text).length;
    expect(tokenCounterFor("gemini", "gemini-2.0-flash").count(text)).toBe(
      Math.ceil(base * APPROX_FACTORS.gemini),
    );
    expect(tokenCounterFor("deepseek", "deepseek-chat").count(text)).toBe(
      Math.ceil(base * APPROX_FACTORS.deepseek),
    );
    expect(tokenCounterFor("openai-compatible", "claude-sonnet-4").count(text)).toBe(
      Math.ceil(base * APPROX_FACTORS.anthropic),
    );
    expect(tokenCounterFor("openai-compatible", "llama-3.3-70b").exact).toBe(false);
  });

  it("price a call by its real prompt tokens", () => {
    const price = PRICES["openai:gpt-4o-mini"]!;
    const req = {
      messages: [{ role: "user" as const, content: CODE.repeat(100) }],
      maxOutputTokens: 0,
      purpose: "t",
    };
    const counter = tokenCounterFor("openai", "gpt-4o-mini");
    expect(estimateCost(req, price, 1, counter)).toBeCloseTo(
      (counter.prompt(req) * price.input) / 1_000_000,
      12,
    );
  });
});

describe("batching with real counts", () => {
  it("splits issues that chars/4 would have put in one overfull call", () => {
    // Code-heavy issue text: about 2.5 characters per token, so chars/4 counts 40 % too few.
    const body = Array.from({ length: 90 }, (_, i) => `x${i}.y(${i},[${i}]);`).join("\n");
    const counter = tokenCounterFor("openai", "gpt-4o-mini");
    const items = Array.from({ length: 4 }, (_, i) => {
      const prompt = { key: `o/r#${i + 1}`, title: `Issue ${i + 1}`, body: body.repeat(6) };
      return {
        key: prompt.key,
        tokens: issueTokens(prompt, counter),
        chars4: Math.ceil((prompt.title.length + prompt.body.length) / 4) + 40,
      };
    });
    const r = parseConfig({
      tech_debt: { batch_size: 10, max_tokens_per_call: 20_000, context: { max_tokens: 2_000 } },
    });
    if (!r.ok) throw new Error("config");
    const real = planBatches(items, r.config, 2_000, counter);
    const byChars = planBatches(
      items.map((i) => ({ ...i, tokens: i.chars4 })),
      r.config,
      2_000,
      counter,
    );
    // chars/4 thinks the four fit in one call; their real tokens do not.
    expect(byChars.map((b) => b.length)).toEqual([4]);
    expect(real.length).toBeGreaterThan(1);
    for (const b of real) {
      const used = b.reduce((n, i) => n + i.tokens, 0);
      expect(used + 2_000).toBeLessThanOrEqual(20_000);
    }
    expect(nock.pendingMocks()).toEqual([]);
  });
});

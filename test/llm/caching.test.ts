import nock from "nock";
import { beforeEach, describe, expect, it } from "vitest";
import type { ProcessorContext } from "../../src/core/worker-contract.js";
import { createLlm } from "../../src/llm/client.js";
import { resetGeminiCaches } from "../../src/llm/gemini-cache.js";
import { resetLimiters } from "../../src/llm/rate-limit.js";
import type { ChatRequest } from "../../src/llm/types.js";
import { createOpenAIBatchApi } from "./caching-helpers.js";
import { testCtx } from "../helpers/context.js";
import { memoryStore } from "../helpers/store.js";
import { chatCompletionBody } from "../helpers/fake-llm.js";

const completion = (usage: Record<string, unknown>) => chatCompletionBody("{}", usage);

/** A request with a shared prefix of about 6,000 tokens and a varying question. */
const CONTEXT = Array.from(
  { length: 1_500 },
  (_, i) => `export const value${i} = compute(${i}); // step ${i}`,
).join("\n");
const request = (question: string): ChatRequest => ({
  messages: [
    { role: "system", content: `rules\n\n${CONTEXT}` },
    { role: "system", content: "Triage the issues." },
    { role: "user", content: question },
  ],
  maxOutputTokens: 50,
  purpose: "analysis",
});

type Body = Record<string, unknown> & { messages: { role: string }[] };

async function ctxFor(repo: string, provider: "openai" | "gemini", config: unknown = {}) {
  const ctx = await testCtx(await memoryStore(), repo, { config });
  ctx.env.llm =
    provider === "openai"
      ? {
          provider,
          model: "gpt-4o-mini",
          apiKey: "sk-test",
          baseUrl: "https://api.openai.com/v1",
          rateLimit: { rpm: 10_000, tpm: 100_000_000 },
        }
      : {
          provider,
          model: "gemini-2.0-flash",
          apiKey: "gm-test",
          baseUrl: "https://generativelanguage.googleapis.com/v1beta/openai/",
          rateLimit: { rpm: 10_000, tpm: 100_000_000 },
        };
  return ctx;
}

beforeEach(() => {
  resetLimiters();
  resetGeminiCaches();
});

describe("OpenAI prompt_cache_key", () => {
  it("is sent, stable across calls of a repository and different across repositories", async () => {
    const bodies: Body[] = [];
    nock("https://api.openai.com")
      .post("/v1/chat/completions")
      .times(3)
      .reply(200, (_u, b) => {
        bodies.push(b as Body);
        return completion({ prompt_tokens: 10, completion_tokens: 1 });
      });
    const a = await ctxFor("octo/Alpha", "openai");
    const b = await ctxFor("octo/beta", "openai");
    await createLlm(a).chat(request("first"));
    await createLlm(a).chat(request("second"));
    await createLlm(b).chat(request("first"));
    const keys = bodies.map((x) => x.prompt_cache_key);
    expect(keys[0]).toMatch(/^bg-agent:[0-9a-f]{16}:[0-9a-f]{12}$/);
    expect(keys[1]).toBe(keys[0]);
    expect(keys[2]).not.toBe(keys[0]);
    // The repository's name is not in the key.
    expect(String(keys[0])).not.toMatch(/alpha/i);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("is in every line of an OpenAI Batch API file", async () => {
    const ctx = await ctxFor("octo/alpha", "openai", { tech_debt: { openai_batch: true } });
    const lines = await createOpenAIBatchApi(ctx, [request("a"), request("b")]);
    expect(lines.map((l) => l.body.prompt_cache_key)).toEqual([
      expect.stringMatching(/^bg-agent:/),
      lines[0]!.body.prompt_cache_key,
    ]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("is not sent to providers that do not take it", async () => {
    const bodies: Body[] = [];
    nock("https://generativelanguage.googleapis.com")
      .post("/v1beta/openai/chat/completions")
      .reply(200, (_u, b) => {
        bodies.push(b as Body);
        return completion({ prompt_tokens: 10, completion_tokens: 1 });
      });
    const ctx = await ctxFor("octo/alpha", "gemini", { llm: { gemini_cache: { enabled: false } } });
    await createLlm(ctx).chat(request("q"));
    expect(bodies[0]).not.toHaveProperty("prompt_cache_key");
    expect(nock.pendingMocks()).toEqual([]);
  });
});

describe("Gemini explicit context cache", () => {
  async function run(ctx: ProcessorContext, calls: number) {
    const bodies: Body[] = [];
    const created: Record<string, unknown>[] = [];
    const gemini = nock("https://generativelanguage.googleapis.com");
    gemini
      .post("/v1beta/cachedContents")
      .optionally()
      .reply(200, (_u, b) => {
        created.push(b as Record<string, unknown>);
        return {
          name: "cachedContents/abc123",
          model: "models/gemini-2.0-flash",
          usageMetadata: { totalTokenCount: 6_500 },
        };
      });
    gemini
      .post("/v1beta/openai/chat/completions")
      .times(calls)
      .reply(200, (_u, b) => {
        const body = b as Body;
        bodies.push(body);
        const cached = body.extra_body !== undefined;
        // As Gemini reports it: the cached tokens inside prompt_tokens.
        return completion({
          prompt_tokens: 7_000,
          completion_tokens: 5,
          ...(cached ? { prompt_tokens_details: { cached_tokens: 6_500 } } : {}),
        });
      });
    const llm = createLlm(ctx);
    const usages = [];
    for (let i = 0; i < calls; i++) usages.push((await llm.chat(request(`q${i}`))).usage);
    return { bodies, created, usages };
  }

  it("is created after min_reuse uses within the TTL and referenced from then on, not before", async () => {
    const ctx = await ctxFor("octo/alpha", "gemini", {
      llm: { gemini_cache: { min_reuse: 3, ttl: "10m" } },
    });
    const { bodies, created, usages } = await run(ctx, 5);
    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({
      model: "models/gemini-2.0-flash",
      ttl: "600s",
      systemInstruction: {
        parts: [{ text: `rules\n\n${CONTEXT}` }, { text: "Triage the issues." }],
      },
    });
    // Calls 1–3: implicit (the whole prefix sent, no cache named).
    for (const b of bodies.slice(0, 3)) {
      expect(b).not.toHaveProperty("extra_body");
      expect(b.messages.map((m) => m.role)).toEqual(["system", "system", "user"]);
    }
    // Calls 4–5: the cache referenced, its system messages left out.
    for (const b of bodies.slice(3)) {
      expect(b.extra_body).toEqual({ google: { cached_content: "cachedContents/abc123" } });
      expect(b.messages.map((m) => m.role)).toEqual(["user"]);
    }
    expect(usages.map((u) => u.cachedTokens)).toEqual([0, 0, 0, 6_500, 6_500]);
    // The cached share is cheaper: 6,500 of 7,000 tokens at the cached price.
    expect(usages[3]!.costUsd).toBeLessThan(usages[0]!.costUsd / 2);
    // The cache's storage for its TTL is recorded once as spend (besides the calls).
    const spent = await ctx.store.spend.today("octo/alpha", Date.now());
    const calls = usages.reduce((n, u) => n + u.costUsd, 0);
    expect(spent - calls).toBeCloseTo((6_500 * 1 * (10 / 60)) / 1_000_000, 9);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("is not created for a prefix used fewer times, nor when disabled", async () => {
    const few = await run(
      await ctxFor("octo/alpha", "gemini", { llm: { gemini_cache: { min_reuse: 3 } } }),
      3,
    );
    expect(few.created).toEqual([]);
    expect(few.bodies.every((b) => b.extra_body === undefined)).toBe(true);
    nock.cleanAll();
    resetGeminiCaches();
    const off = await run(
      await ctxFor("octo/alpha", "gemini", {
        llm: { gemini_cache: { enabled: false, min_reuse: 0 } },
      }),
      2,
    );
    expect(off.created).toEqual([]);
    nock.cleanAll();
  });

  it("falls back to implicit caching when Gemini refuses to create one, and does not ask again", async () => {
    const ctx = await ctxFor("octo/alpha", "gemini", { llm: { gemini_cache: { min_reuse: 0 } } });
    const gemini = nock("https://generativelanguage.googleapis.com");
    gemini
      .post("/v1beta/cachedContents")
      .once()
      .reply(400, { error: { message: "Cached content is too small" } });
    const bodies: Body[] = [];
    gemini
      .post("/v1beta/openai/chat/completions")
      .times(2)
      .reply(200, (_u, b) => {
        bodies.push(b as Body);
        return completion({ prompt_tokens: 7_000, completion_tokens: 5 });
      });
    const llm = createLlm(ctx);
    await llm.chat(request("a"));
    await llm.chat(request("b"));
    expect(bodies.every((b) => b.extra_body === undefined && b.messages.length === 3)).toBe(true);
    expect(nock.pendingMocks()).toEqual([]);
  });
});

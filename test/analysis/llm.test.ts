import nock from "nock";
import { describe, expect, it } from "vitest";
import { createLlm } from "../../src/llm/client.js";
import { DEFAULT_PRICE, costOf, priceFor } from "../../src/llm/pricing.js";
import type { Clock } from "../../src/llm/rate-limit.js";
import { RateLimiter, retryAfterMs } from "../../src/llm/rate-limit.js";
import { BudgetExceededError, LlmUnavailableError } from "../../src/llm/types.js";
import { readUsage } from "../../src/llm/usage.js";
import { memoryLogger } from "../../src/log.js";
import { testCtx } from "../helpers/context.js";
import { memoryStore } from "../helpers/store.js";
import { baseConfig } from "./setup.js";
import { resetLimiters } from "../../src/llm/rate-limit.js";
import { chatCompletionBody } from "../helpers/fake-llm.js";

const req = {
  messages: [{ role: "user" as const, content: "hi" }],
  purpose: "test",
  maxOutputTokens: 100,
};

describe("usage and pricing", () => {
  it("reads OpenAI cached tokens and DeepSeek hit/miss tokens", () => {
    const p = { input: 1, cachedInput: 0.1, output: 2 };
    expect(
      readUsage(
        "openai",
        {
          prompt_tokens: 2000,
          completion_tokens: 100,
          prompt_tokens_details: { cached_tokens: 1536 },
        },
        p,
      ),
    ).toEqual({
      promptTokens: 2000,
      cachedTokens: 1536,
      completionTokens: 100,
      costUsd: (464 * 1 + 1536 * 0.1 + 100 * 2) / 1e6,
    });
    expect(
      readUsage(
        "deepseek",
        {
          prompt_tokens: 3000,
          completion_tokens: 10,
          prompt_cache_hit_tokens: 2560,
          prompt_cache_miss_tokens: 440,
        },
        p,
      ),
    ).toMatchObject({
      promptTokens: 3000,
      cachedTokens: 2560,
    });
    expect(readUsage("openai", undefined, p).costUsd).toBe(0);
  });

  it("prices known models, config overrides, and a conservative default with one warning", () => {
    expect(priceFor("openai", "gpt-4o-mini").price).toEqual({
      input: 0.15,
      cachedInput: 0.075,
      output: 0.6,
    });
    expect(priceFor("openai-compatible", "deepseek-chat").source).toBe("table");
    expect(
      priceFor("openai", "gpt-4o-mini", {
        "gpt-4o-mini": { input: 1, cached_input: 0.5, output: 3 },
      }).price.output,
    ).toBe(3);
    const log = memoryLogger();
    expect(priceFor("openai-compatible", "my-llama", {}, log).price).toEqual(DEFAULT_PRICE);
    priceFor("openai-compatible", "my-llama", {}, log);
    expect(log.lines.filter((l) => l.level === "warn")).toHaveLength(1);
    expect(
      costOf({ promptTokens: 1_000_000, cachedTokens: 0, completionTokens: 0 }, DEFAULT_PRICE),
    ).toBe(5);
  });
});

describe("rate limits", () => {
  const fakeClock = (): Clock & { t: number; slept: number[] } => {
    const c = {
      t: 0,
      slept: [] as number[],
      now: () => c.t,
      sleep: async (ms: number) => {
        c.slept.push(ms);
        c.t += ms;
      },
    };
    return c;
  };

  it("a token bucket per minute for requests and tokens", async () => {
    const clock = fakeClock();
    const l = new RateLimiter({ rpm: 2, tpm: 1000 }, clock);
    await l.acquire(100);
    await l.acquire(100);
    expect(clock.slept).toEqual([]);
    await l.acquire(100); // third request in the minute: waits for one request token (30 s)
    expect(clock.slept).toEqual([30_000]);
    expect(l.waitMs(5000)).toBeGreaterThan(0); // above capacity: waits for a full bucket
  });

  it("reads retry-after in seconds, ms, or as a date", () => {
    expect(retryAfterMs(new Headers({ "retry-after": "3" }))).toBe(3000);
    expect(retryAfterMs(new Headers({ "retry-after-ms": "250" }))).toBe(250);
    expect(retryAfterMs(new Headers())).toBe(1000);
  });
});

describe("createLlm", () => {
  it("throws LlmUnavailableError when the environment has no usable settings", async () => {
    const ctx = await testCtx(await memoryStore());
    ctx.env.llm = new LlmUnavailableError("No LLM API key: set BG_LLM_API_KEY");
    expect(() => createLlm(ctx)).toThrow(LlmUnavailableError);
  });

  it("honours a 429 retry-after, then records the spend", async () => {
    resetLimiters();
    const store = await memoryStore();
    const ctx = await testCtx(store, "octo/demo", { config: baseConfig() });
    nock("https://api.openai.com")
      .post("/v1/chat/completions")
      .reply(
        429,
        { error: { message: "slow down", code: "rate_limit_exceeded" } },
        { "retry-after-ms": "5" },
      )
      .post("/v1/chat/completions")
      .reply(200, chatCompletionBody("ok", { prompt_tokens: 10, completion_tokens: 5 }));
    const r = await createLlm(ctx, { maxRetries: 0 }).chat(req);
    expect(r.message.content).toBe("ok");
    expect(r.usage.costUsd).toBeCloseTo((10 * 0.15 + 5 * 0.6) / 1e6, 12);
    expect(await store.spend.today("octo/demo")).toBeCloseTo(r.usage.costUsd, 12);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("asks DeepSeek for json_object and OpenAI for strict json_schema", async () => {
    resetLimiters();
    const bodies: Record<string, unknown>[] = [];
    const ctx = await testCtx(await memoryStore(), "octo/demo", { config: baseConfig() });
    ctx.env.llm = {
      provider: "deepseek",
      model: "deepseek-chat",
      apiKey: "k",
      baseUrl: "https://api.deepseek.com",
    };
    nock("https://api.deepseek.com")
      .post("/chat/completions")
      .reply(200, (_u, b) => {
        bodies.push(b as Record<string, unknown>);
        return chatCompletionBody("{}", {
          prompt_tokens: 10,
          completion_tokens: 2,
          prompt_cache_hit_tokens: 0,
          prompt_cache_miss_tokens: 10,
        });
      });
    await createLlm(ctx).chat({
      ...req,
      format: { type: "json_schema", name: "x", schema: { type: "object" } },
    });
    expect(bodies[0]).toMatchObject({ response_format: { type: "json_object" }, max_tokens: 100 });
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("asks DeepSeek for at most its 8,192 output tokens, OpenAI for up to 16,384: a larger request is cut to the provider's limit", async () => {
    const ctx = await testCtx(await memoryStore(), "octo/demo", { config: baseConfig() });
    /** The body `provider` at `baseUrl` is sent for a request of 12,256 output tokens. */
    const sent = async (
      provider: "deepseek" | "openai",
      model: string,
      baseUrl: string,
      path: string,
    ): Promise<Record<string, unknown>> => {
      resetLimiters();
      ctx.env.llm = { provider, model, apiKey: "k", baseUrl };
      let body: Record<string, unknown> = {};
      nock(new URL(baseUrl).origin)
        .post(path)
        .reply(200, (_u, b) => {
          body = b as Record<string, unknown>;
          return chatCompletionBody("{}", { prompt_tokens: 10, completion_tokens: 2 });
        });
      await createLlm(ctx).chat({ ...req, maxOutputTokens: 12_256 });
      return body;
    };
    expect(
      await sent("deepseek", "deepseek-chat", "https://api.deepseek.com", "/chat/completions"),
    ).toMatchObject({ max_tokens: 8_192 });
    expect(
      await sent("openai", "gpt-4o-mini", "https://api.openai.com/v1", "/v1/chat/completions"),
    ).toMatchObject({ max_completion_tokens: 12_256 });
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("refuses a call whose estimate would pass the daily budget: nothing is sent", async () => {
    resetLimiters();
    const store = await memoryStore();
    const ctx = await testCtx(store, "octo/demo", {
      config: baseConfig({ budget: { daily_usd: 0.0000001 } }),
    });
    const err = await createLlm(ctx)
      .chat(req)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BudgetExceededError);
    expect((err as BudgetExceededError).period).toBe("day");
  });
});

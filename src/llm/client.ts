import OpenAI, {
  APIError,
  AuthenticationError,
  NotFoundError,
  PermissionDeniedError,
  RateLimitError,
} from "openai";
import type { ChatCompletionCreateParamsNonStreaming } from "openai/resources/chat/completions";
import type { ProcessorContext } from "../core/worker-contract.js";
import { DEFAULT_MAX_OUTPUT, addRunSpend, estimateCost } from "./budget.js";
import { budgetGate } from "./budget-gate.js";
import { promptCacheKey, splitPrefix } from "./cache-key.js";
import type { GeminiCacheRef } from "./gemini-cache.js";
import { dropGeminiCache, geminiCacheFor } from "./gemini-cache.js";
import type { Price } from "./pricing.js";
import { DEFAULT_CACHE_STORAGE_PER_HOUR, priceFor } from "./pricing.js";
import { providerSpec } from "./providers.js";
import { tokenCounterFor } from "./tokens.js";
import type { Clock, Limiter } from "./rate-limit.js";
import { limiterFor, realClock, withRateLimit } from "./rate-limit.js";
import { SharedRateLimiter } from "./shared-rate-limit.js";
import type { ChatRequest, ChatResult, Llm, LlmSettings, StructuredFormat } from "./types.js";
import { DEFAULT_LLM_RATE_LIMIT, EmptyAnswerError, LlmUnavailableError } from "./types.js";
import { readUsage } from "./usage.js";
import { parseDuration } from "../util/duration.js";
import { errText } from "../util/errors.js";

/** A 4xx other than 429: the request itself was refused. */
const isClientError = (e: unknown): boolean =>
  e instanceof APIError &&
  typeof e.status === "number" &&
  e.status >= 400 &&
  e.status < 500 &&
  e.status !== 429;

/** How a provider is asked for JSON: strict json_schema where supported, json_object otherwise. */
export const structuredModeOf = (
  s: Pick<LlmSettings, "provider" | "structuredOutput">,
): "json_schema" | "json_object" => s.structuredOutput ?? providerSpec(s.provider).structuredOutput;

export function responseFormat(
  format: StructuredFormat | undefined,
  mode: "json_schema" | "json_object",
): ChatCompletionCreateParamsNonStreaming["response_format"] {
  if (!format || format.type === "text") return undefined;
  if (format.type === "json_schema" && mode === "json_schema") {
    return {
      type: "json_schema",
      json_schema: { name: format.name, schema: format.schema, strict: true },
    };
  }
  return { type: "json_object" };
}

/**
 * fetch for the SDK: a 429 is marked not-retryable for the SDK, so bg-agent's limiter handles it
 * (waits what retry-after says, bounded); 5xx and network errors stay the SDK's (maxRetries).
 * globalThis.fetch is read per call so test interceptors see the request.
 */
const fetchFor = (base?: typeof fetch): typeof fetch => {
  const f: typeof fetch = async (input, init) => {
    const res = await (base ?? globalThis.fetch)(input, init);
    if (res.status !== 429) return res;
    const headers = new Headers(res.headers);
    headers.set("x-should-retry", "false");
    return new Response(res.body, { status: 429, statusText: res.statusText, headers });
  };
  // The SDK probes a custom fetch for FormData support (uploads) with fetch("data:,") unless it
  // carries its Response class: it is the global one.
  return Object.assign(f, { Response });
};

/** Turns provider errors that no retry will fix into LlmUnavailableError with what to do. */
export function translateError(
  e: unknown,
  s: Pick<LlmSettings, "provider" | "model" | "baseUrl">,
): unknown {
  if (e instanceof AuthenticationError) {
    return new LlmUnavailableError(
      `The ${s.provider} API rejected the API key (401): check BG_LLM_API_KEY (or the llm-api-key input). LLM work is retried later.`,
    );
  }
  if (e instanceof PermissionDeniedError) {
    return new LlmUnavailableError(
      `The ${s.provider} API refused access (403) for model ${s.model}: check the key's permissions and BG_LLM_MODEL.`,
    );
  }
  if (e instanceof NotFoundError) {
    return new LlmUnavailableError(
      `The ${s.provider} API does not know model "${s.model}" at ${s.baseUrl} (404): check BG_LLM_MODEL and BG_LLM_BASE_URL.`,
    );
  }
  if (e instanceof RateLimitError && e.code === "insufficient_quota") {
    return new LlmUnavailableError(
      `The ${s.provider} account has no quota left (429 insufficient_quota): add credit.`,
    );
  }
  return e;
}

/** The request's output bound, within what its provider accepts. */
export const outputCap = (req: ChatRequest, provider: LlmSettings["provider"]): number =>
  Math.min(req.maxOutputTokens ?? DEFAULT_MAX_OUTPUT, providerSpec(provider).maxOutputTokens);

/**
 * The chat completions body of a request: the same for a synchronous call and for a line of an
 * OpenAI Batch API file.
 */
export function chatBody(
  req: ChatRequest,
  s: {
    provider: LlmSettings["provider"];
    model: string;
    mode: "json_schema" | "json_object";
    /** The repository (owner/name): its `prompt_cache_key` where the provider takes one. */
    repo?: string;
  },
): ChatCompletionCreateParamsNonStreaming {
  const spec = providerSpec(s.provider);
  const maxOut = outputCap(req, s.provider);
  const body: ChatCompletionCreateParamsNonStreaming = {
    model: s.model,
    messages: req.messages,
    ...(req.tools?.length ? { tools: req.tools } : {}),
    [spec.maxTokensParam]: maxOut,
  };
  const rf = responseFormat(req.format, s.mode);
  if (rf) body.response_format = rf;
  if (spec.promptCacheKey && s.repo) body.prompt_cache_key = promptCacheKey(s.repo, req.messages);
  return body;
}

/**
 * The body of a call that references a Gemini explicit cache: the cached system messages left
 * out (they are the cache's system instruction), the cache named in `extra_body.google`.
 */
export function withGeminiCache(
  body: ChatCompletionCreateParamsNonStreaming,
  rest: ChatCompletionCreateParamsNonStreaming["messages"],
  cache: Pick<GeminiCacheRef, "name">,
): ChatCompletionCreateParamsNonStreaming {
  return Object.assign({}, body, {
    messages: rest,
    extra_body: { google: { cached_content: cache.name } },
  });
}

/** The openai SDK client for the settings (429s left to bg-agent's limiter, see fetchFor). */
export function openaiClient(
  settings: Pick<LlmSettings, "apiKey" | "baseUrl">,
  o: CreateLlmOptions = {},
): OpenAI {
  return new OpenAI({
    apiKey: settings.apiKey,
    baseURL: settings.baseUrl,
    maxRetries: o.maxRetries ?? 2,
    timeout: o.timeoutMs ?? 120_000,
    fetch: fetchFor(o.fetch),
    logLevel: "off",
  });
}

export interface CreateLlmOptions {
  /** Another model than the repository's (`llm.model`, BG_LLM_MODEL): e.g. `llm.background_model`. */
  model?: string;
  clock?: Clock;
  fetch?: typeof fetch;
  /** SDK retries for 5xx and network errors (default 2). */
  maxRetries?: number;
  timeoutMs?: number;
}

/** The LLM settings of the run, or the error saying what to set. */
export function settingsOf(ctx: ProcessorContext): LlmSettings {
  const settings = ctx.env.llm;
  if (settings instanceof Error) {
    throw settings instanceof LlmUnavailableError
      ? settings
      : new LlmUnavailableError(String(settings));
  }
  return settings;
}

/**
 * The limiters a repository's call goes through: the app's one of the provider, whose limits are
 * the app's (BG_LLM_RPM / BG_LLM_TPM; no repository's config changes them), and, when the
 * repository's `rate_limit` asks for less than the app allows, its own smaller share. On a store
 * shared by replicas (PostgreSQL) both live in the store, so the limits hold for all replicas
 * together; otherwise they are this process's (src/llm/rate-limit.ts).
 */
export function limitersFor(
  ctx: ProcessorContext,
  settings: LlmSettings,
  clock: Clock = realClock,
): { process: Limiter; repo: Limiter | null } {
  const app = settings.rateLimit ?? DEFAULT_LLM_RATE_LIMIT;
  const key = `${settings.provider}|${settings.baseUrl}`;
  const shared = ctx.store.dialect === "postgres";
  const limiter = (k: string, limits: { rpm: number; tpm: number }): Limiter =>
    shared
      ? new SharedRateLimiter(ctx.store.pace, `llm:${k}`, limits, clock)
      : limiterFor(k, limits, clock);
  const process = limiter(key, app);
  const asked = ctx.config.rate_limit;
  const rpm = Math.min(app.rpm, asked.rpm ?? app.rpm);
  const tpm = Math.min(app.tpm, asked.tpm ?? app.tpm);
  if (rpm === app.rpm && tpm === app.tpm) return { process, repo: null };
  return {
    process,
    repo: limiter(`${key}|repo:${ctx.repoName.toLowerCase()}`, { rpm, tpm }),
  };
}

/** A repository's LLM client: budget checked before each call, rate limited, usage recorded. */
export function createLlm(ctx: ProcessorContext, o: CreateLlmOptions = {}): Llm {
  const settings = settingsOf(ctx);
  const model = o.model ?? ctx.config.llm.model ?? settings.model;
  const provider = settings.provider;
  const mode = structuredModeOf(settings);
  const client = openaiClient(settings, o);
  const clock = o.clock ?? realClock;
  const log = ctx.log.child({ provider, model });
  const budget = budgetGate(ctx, log);
  const counter = tokenCounterFor(provider, model);
  const explicit = providerSpec(provider).explicitCache;
  const gc = ctx.config.llm.gemini_cache;

  /**
   * The explicit cache this call references (Gemini, `llm.gemini_cache`), or null: none for the
   * provider, no tools (a cache would have to hold them), a prefix below the provider's minimum.
   * The call that creates one records the cache's storage for its TTL as spend.
   */
  const explicitCache = async (
    req: ChatRequest,
    price: Price,
  ): Promise<{ ref: GeminiCacheRef; rest: ChatRequest["messages"]; hash: string } | null> => {
    if (!explicit || !gc.enabled || req.tools?.length) return null;
    const prefix = splitPrefix(req.messages);
    if (!prefix.rest.length || !prefix.texts.length) return null;
    const prefixTokens = prefix.texts.reduce((n, t) => n + counter.count(t), 0);
    if (prefixTokens < explicit.minTokens) return null;
    const ttlMs = parseDuration(gc.ttl) ?? 600_000;
    const deps = {
      apiKey: settings.apiKey,
      baseUrl: settings.baseUrl,
      model,
      clock,
      log,
      ...(o.fetch ? { fetch: o.fetch } : {}),
    };
    const ref = await geminiCacheFor(deps, prefix, { minReuse: gc.min_reuse, ttlMs });
    if (!ref) return null;
    if (ref.created) {
      const tokens = ref.tokens || prefixTokens;
      const storage = price.cacheStoragePerHour ?? DEFAULT_CACHE_STORAGE_PER_HOUR;
      const costUsd = (tokens * storage * (ttlMs / 3_600_000)) / 1_000_000;
      addRunSpend(ctx.env, costUsd);
      if (!ctx.env.dryRun)
        await ctx.store.spend.add(ctx.repoName, {
          promptTokens: 0,
          cachedTokens: 0,
          completionTokens: 0,
          costUsd,
        });
    }
    return { ref, rest: prefix.rest, hash: prefix.hash };
  };

  return {
    provider,
    model,
    async chat(req: ChatRequest): Promise<ChatResult> {
      const { price } = priceFor(provider, model, ctx.config.llm.pricing, log);
      const maxOut = outputCap(req, provider);
      const estimateUsd = estimateCost({ ...req, maxOutputTokens: maxOut }, price, 1, counter);
      await budget.guard(estimateUsd, "call");
      // Reserve the estimate for the run cap while the call is in flight (concurrent repositories).
      addRunSpend(ctx.env, estimateUsd);
      let reserved = estimateUsd;
      try {
        const body = chatBody(req, { provider, model, mode, repo: ctx.repoName });
        const tokens = counter.prompt(req) + maxOut;
        const { process: limiter, repo: share } = limitersFor(ctx, settings, clock);
        // A repository that lowered its own share waits for it first, then for the process's.
        if (share) await share.acquire(tokens);
        const cache = await explicitCache(req, price);
        const send = (b: ChatCompletionCreateParamsNonStreaming) =>
          withRateLimit(limiter, tokens, () =>
            client.chat.completions.create(b, req.signal ? { signal: req.signal } : {}),
          );
        let used = cache;
        const raw = await (cache ? send(withGeminiCache(body, cache.rest, cache.ref)) : send(body))
          .catch((e: unknown) => {
            // A cache Gemini no longer knows (deleted, expired early): once more without it.
            if (!cache || !isClientError(e)) throw e;
            log.warn({ cache: cache.ref.name, err: errText(e) }, "Gemini context cache refused");
            dropGeminiCache({ baseUrl: settings.baseUrl, model }, cache.hash);
            used = null;
            return send(body);
          })
          .catch((e: unknown) => {
            throw translateError(e, { provider, model, baseUrl: settings.baseUrl });
          });
        const usage = readUsage(provider, raw.usage, price, 1, used?.ref.tokens ?? 0);
        addRunSpend(ctx.env, usage.costUsd - reserved);
        reserved = 0;
        if (!ctx.env.dryRun) await ctx.store.spend.add(ctx.repoName, usage);
        log.debug({ purpose: req.purpose, usage, cache: used?.ref.name }, "llm call");
        await budget.alert();
        const choice = raw.choices[0];
        if (!choice) throw new EmptyAnswerError(`the ${provider} API returned no choices`, usage);
        return { message: choice.message, usage, raw, finishReason: choice.finish_reason ?? null };
      } finally {
        if (reserved) addRunSpend(ctx.env, -reserved);
      }
    },
  };
}

/**
 * The LLM providers bg-agent speaks to, one entry each: everything that differs between them.
 * client.ts, usage.ts, openai-batch.ts and settings.ts read this table instead of comparing
 * provider names; the list of names (BG_LLM_PROVIDER, the llm-provider input, their error
 * messages) is its keys. All speak the OpenAI chat completions protocol (the openai SDK).
 */
export interface ProviderSpec {
  /** Base URL and default model; null when BG_LLM_BASE_URL (and BG_LLM_MODEL) must say. */
  preset: { baseUrl: string; model: string } | null;
  /** How JSON is asked for unless BG_LLM_STRUCTURED_OUTPUT says otherwise. */
  structuredOutput: "json_schema" | "json_object";
  /** The request field that bounds output tokens. */
  maxTokensParam: "max_completion_tokens" | "max_tokens";
  /**
   * The most output tokens a request may ask for: what a larger request asks is cut to this
   * (a provider refuses a max_tokens over its limit; an analysis cut off at it is asked again in
   * halves). OpenAI: gpt-4o-mini's and gpt-4o's 16,384 (the 4.1 and o-series models take more);
   * DeepSeek's deepseek-chat and Gemini's 2.0 models: 8,192; an unknown server: 8,192.
   */
  maxOutputTokens: number;
  /**
   * Where a response reports cached prompt tokens: `prompt_tokens_details.cached_tokens`
   * (OpenAI's field), or `prompt_cache_hit_tokens` with `prompt_cache_miss_tokens` (DeepSeek's,
   * whose sum is the prompt). Either is read when present; this says which one is expected.
   */
  cachedTokensField: "prompt_tokens_details.cached_tokens" | "prompt_cache_hit_tokens";
  /** The OpenAI Batch API (files + batches, at BATCH_DISCOUNT) is available. */
  batchApi: boolean;
  /**
   * How its prompt cache works: automatic on an identical prefix (the project context sent first
   * in every call), with the cached-input price of src/llm/pricing.ts, or unknown.
   */
  caching: "automatic-prefix" | "unknown";
  /**
   * How prompt tokens are counted before a call (src/llm/tokens.ts): `exact` the OpenAI model's own
   * encoding (o200k_base or cl100k_base, exact), `approx` the o200k_base count times the family's
   * documented factor (APPROX_FACTORS), `by-model` decided by the model's name (a server that
   * may run any model).
   */
  tokenizer: { kind: "exact" } | { kind: "approx"; family: ApproxFamily } | { kind: "by-model" };
  /** OpenAI's `prompt_cache_key` is sent (one per repository and prefix: src/llm/cache-key.ts). */
  promptCacheKey: boolean;
  /**
   * An explicit context cache bg-agent can create for a prefix reused often enough
   * (`llm.gemini_cache`): Gemini's `cachedContents`, with the smallest prefix it accepts. Null: none.
   */
  explicitCache: { kind: "gemini-cached-contents"; minTokens: number } | null;
}

/** The model families whose tokens are approximated (src/llm/tokens.ts has the factors). */
export type ApproxFamily = "anthropic" | "gemini" | "deepseek" | "unknown";

export const PROVIDER_TABLE = {
  openai: {
    preset: { baseUrl: "https://api.openai.com/v1", model: "gpt-4o-mini" },
    structuredOutput: "json_schema",
    maxTokensParam: "max_completion_tokens",
    maxOutputTokens: 16_384,
    cachedTokensField: "prompt_tokens_details.cached_tokens",
    batchApi: true,
    caching: "automatic-prefix",
    tokenizer: { kind: "exact" },
    promptCacheKey: true,
    explicitCache: null,
  },
  deepseek: {
    preset: { baseUrl: "https://api.deepseek.com", model: "deepseek-chat" },
    structuredOutput: "json_object",
    maxTokensParam: "max_tokens",
    maxOutputTokens: 8_192,
    cachedTokensField: "prompt_cache_hit_tokens",
    batchApi: false,
    caching: "automatic-prefix",
    tokenizer: { kind: "approx", family: "deepseek" },
    promptCacheKey: false,
    explicitCache: null,
  },
  gemini: {
    // Gemini's OpenAI-compatible endpoint.
    preset: {
      baseUrl: "https://generativelanguage.googleapis.com/v1beta/openai/",
      model: "gemini-2.0-flash",
    },
    structuredOutput: "json_schema",
    maxTokensParam: "max_tokens",
    maxOutputTokens: 8_192,
    cachedTokensField: "prompt_tokens_details.cached_tokens",
    batchApi: false,
    caching: "automatic-prefix",
    tokenizer: { kind: "approx", family: "gemini" },
    promptCacheKey: false,
    // 4,096: the largest minimum of the Gemini models (2.5 Flash accepts 1,024, 2.5 Pro 2,048).
    explicitCache: { kind: "gemini-cached-contents", minTokens: 4_096 },
  },
  "openai-compatible": {
    preset: null,
    structuredOutput: "json_schema",
    maxTokensParam: "max_tokens",
    maxOutputTokens: 8_192,
    cachedTokensField: "prompt_tokens_details.cached_tokens",
    batchApi: false,
    caching: "unknown",
    tokenizer: { kind: "by-model" },
    promptCacheKey: false,
    explicitCache: null,
  },
} as const satisfies Record<string, ProviderSpec>;

export type ProviderName = keyof typeof PROVIDER_TABLE;

/** Every provider name, in the table's order. */
export const PROVIDERS = Object.keys(PROVIDER_TABLE) as readonly ProviderName[];

export const isProviderName = (name: string): name is ProviderName =>
  Object.hasOwn(PROVIDER_TABLE, name);

export const providerSpec = (name: ProviderName): ProviderSpec => PROVIDER_TABLE[name];

/** The providers with the OpenAI Batch API. */
export const BATCH_PROVIDERS: readonly ProviderName[] = PROVIDERS.filter(
  (p) => PROVIDER_TABLE[p].batchApi,
);

/** The presets by provider (the providers that have one). */
export const PRESETS: Readonly<Partial<Record<ProviderName, { baseUrl: string; model: string }>>> =
  Object.fromEntries(
    PROVIDERS.flatMap((p) => {
      const preset = PROVIDER_TABLE[p].preset;
      return preset ? [[p, preset]] : [];
    }),
  );

/** BG_LLM_PROVIDER when unset and no base URL is given (with a base URL: openai-compatible). */
export const DEFAULT_PROVIDER = "openai" satisfies ProviderName;

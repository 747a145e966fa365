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
}

export const PROVIDER_TABLE = {
  openai: {
    preset: { baseUrl: "https://api.openai.com/v1", model: "gpt-4o-mini" },
    structuredOutput: "json_schema",
    maxTokensParam: "max_completion_tokens",
    cachedTokensField: "prompt_tokens_details.cached_tokens",
    batchApi: true,
    caching: "automatic-prefix",
  },
  deepseek: {
    preset: { baseUrl: "https://api.deepseek.com", model: "deepseek-chat" },
    structuredOutput: "json_object",
    maxTokensParam: "max_tokens",
    cachedTokensField: "prompt_cache_hit_tokens",
    batchApi: false,
    caching: "automatic-prefix",
  },
  gemini: {
    // Gemini's OpenAI-compatible endpoint.
    preset: {
      baseUrl: "https://generativelanguage.googleapis.com/v1beta/openai/",
      model: "gemini-2.0-flash",
    },
    structuredOutput: "json_schema",
    maxTokensParam: "max_tokens",
    cachedTokensField: "prompt_tokens_details.cached_tokens",
    batchApi: false,
    caching: "automatic-prefix",
  },
  "openai-compatible": {
    preset: null,
    structuredOutput: "json_schema",
    maxTokensParam: "max_tokens",
    cachedTokensField: "prompt_tokens_details.cached_tokens",
    batchApi: false,
    caching: "unknown",
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

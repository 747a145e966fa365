import { registerSecret } from "../util/secrets.js";
import { DEFAULT_PROVIDER, PROVIDERS, isProviderName, providerSpec } from "./providers.js";
import type { LlmSettings } from "./types.js";
import { DEFAULT_LLM_RATE_LIMIT, LlmUnavailableError } from "./types.js";

export { PRESETS } from "./providers.js";

export interface LlmInput {
  provider?: string | undefined;
  model?: string | undefined;
  apiKey?: string | undefined;
  baseUrl?: string | undefined;
  /** `json_schema` or `json_object` (BG_LLM_STRUCTURED_OUTPUT). */
  structuredOutput?: string | undefined;
  /** Requests per minute for the whole process (BG_LLM_RPM, the llm-rpm input). */
  rpm?: string | number | undefined;
  /** Tokens per minute for the whole process (BG_LLM_TPM, the llm-tpm input). */
  tpm?: string | number | undefined;
}

/** Parses BG_LLM_RPM / BG_LLM_TPM (or the inputs): a whole number of at least `min`, or an error. */
function limitOf(
  raw: string | number | undefined,
  fallback: number,
  min: number,
  what: string,
): number | LlmUnavailableError {
  if (raw === undefined || (typeof raw === "string" && raw.trim() === "")) return fallback;
  const n = typeof raw === "number" ? raw : Number(raw.trim());
  if (!Number.isInteger(n) || n < min) {
    return new LlmUnavailableError(
      `${what} must be a whole number of at least ${min} (got "${String(raw).slice(0, 40)}").`,
    );
  }
  return n;
}

/**
 * Resolves the LLM settings from BG_LLM_* (or the Action's inputs). Returns an error message
 * instead of settings when something is missing, so the run can say what to set.
 */
export function resolveLlmSettings(input: LlmInput): LlmSettings | LlmUnavailableError {
  const provider =
    input.provider?.trim() || (input.baseUrl ? "openai-compatible" : DEFAULT_PROVIDER);
  if (!isProviderName(provider)) {
    return new LlmUnavailableError(
      `Unknown LLM provider "${input.provider}": use one of ${PROVIDERS.join(", ")} (BG_LLM_PROVIDER or the llm-provider input).`,
    );
  }
  if (!input.apiKey?.trim()) {
    return new LlmUnavailableError(
      "No LLM API key: set BG_LLM_API_KEY (or the llm-api-key input). LLM work is skipped until then.",
    );
  }
  const preset = providerSpec(provider).preset;
  const baseUrl = input.baseUrl?.trim() || preset?.baseUrl;
  if (!baseUrl) {
    return new LlmUnavailableError(
      `Provider ${provider} needs a base URL: set BG_LLM_BASE_URL (or llm-base-url).`,
    );
  }
  const model = input.model?.trim() || preset?.model;
  if (!model) return new LlmUnavailableError("No model: set BG_LLM_MODEL (or llm-model).");
  const so = input.structuredOutput?.trim();
  if (so && so !== "json_schema" && so !== "json_object") {
    return new LlmUnavailableError(
      `Unknown structured output mode "${so}": BG_LLM_STRUCTURED_OUTPUT is json_schema or json_object.`,
    );
  }
  const rpm = limitOf(input.rpm, DEFAULT_LLM_RATE_LIMIT.rpm, 1, "BG_LLM_RPM (llm-rpm)");
  if (rpm instanceof LlmUnavailableError) return rpm;
  const tpm = limitOf(input.tpm, DEFAULT_LLM_RATE_LIMIT.tpm, 100, "BG_LLM_TPM (llm-tpm)");
  if (tpm instanceof LlmUnavailableError) return tpm;
  return {
    provider,
    model,
    apiKey: secret(input.apiKey.trim()),
    baseUrl,
    ...(so ? { structuredOutput: so as "json_schema" | "json_object" } : {}),
    rateLimit: { rpm, tpm },
  };
}

export const llmSettingsFromEnv = (env: NodeJS.ProcessEnv = process.env) =>
  resolveLlmSettings({
    provider: env.BG_LLM_PROVIDER,
    model: env.BG_LLM_MODEL,
    apiKey: env.BG_LLM_API_KEY,
    baseUrl: env.BG_LLM_BASE_URL,
    structuredOutput: env.BG_LLM_STRUCTURED_OUTPUT,
    rpm: env.BG_LLM_RPM,
    tpm: env.BG_LLM_TPM,
  });

/** The key, registered so no log line, comment or API answer ever shows it. */
function secret(key: string): string {
  registerSecret(key);
  return key;
}

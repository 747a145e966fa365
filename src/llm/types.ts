import type {
  ChatCompletion,
  ChatCompletionMessage,
  ChatCompletionMessageParam,
  ChatCompletionTool,
} from "openai/resources/chat/completions";
import type { Usage } from "../core/domain.js";
import type { ProviderName } from "./providers.js";

export { PROVIDERS } from "./providers.js";
export type { ProviderName } from "./providers.js";

export interface LlmSettings {
  provider: ProviderName;
  model: string;
  apiKey: string;
  baseUrl: string;
  /**
   * How structured output is asked for: `json_schema` (strict Structured Outputs) or
   * `json_object`. Default per provider (PROVIDER_TABLE's `structuredOutput`);
   * BG_LLM_STRUCTURED_OUTPUT overrides it for openai-compatible servers.
   */
  structuredOutput?: "json_schema" | "json_object" | undefined;
  /**
   * The app-level LLM rate limit (BG_LLM_RPM / BG_LLM_TPM, or the Action's llm-rpm / llm-tpm):
   * one process-wide limiter per provider that no repository's config can raise. Absent: the
   * defaults (DEFAULT_LLM_RATE_LIMIT).
   */
  rateLimit?: { rpm: number; tpm: number };
}

/** The app-level rate limit when none is set: 10 requests and 100,000 tokens per minute. */
export const DEFAULT_LLM_RATE_LIMIT = { rpm: 10, tpm: 100_000 } as const;

export type StructuredFormat =
  | { type: "json_schema"; name: string; schema: Record<string, unknown> }
  | { type: "json_object" }
  | { type: "text" };

export interface ChatRequest {
  messages: ChatCompletionMessageParam[];
  tools?: ChatCompletionTool[];
  format?: StructuredFormat;
  /** Upper bound of output tokens, used for the pre-call budget estimate and max_tokens. */
  maxOutputTokens?: number;
  /** What the call is for, in logs and runs: `analysis`, `fix`, `task:name`. */
  purpose: string;
  signal?: AbortSignal;
}

export interface ChatResult {
  message: ChatCompletionMessage;
  usage: Usage;
  raw: ChatCompletion;
  /**
   * Why the model stopped, as the provider says (`stop`; `length`: cut off at maxOutputTokens;
   * `tool_calls`, `content_filter`), or null when it does not say.
   */
  finishReason: string | null;
}

/**
 * The LLM as processors see it: one repository's client, with its budget and rate limits
 * checked before every call and its usage recorded after.
 */
export interface Llm {
  readonly provider: ProviderName;
  readonly model: string;
  chat(req: ChatRequest): Promise<ChatResult>;
}

/** Thrown before a call that would go past a budget; nothing was sent. */
export class BudgetExceededError extends Error {
  constructor(
    readonly period: "day" | "month" | "run",
    readonly spentUsd: number,
    readonly limitUsd: number,
    /** When the period rolls over (ms epoch); for `run`, null. */
    readonly retryAt: number | null,
  ) {
    super(`the ${period} budget is spent: $${spentUsd.toFixed(4)} of $${limitUsd.toFixed(2)}`);
    this.name = "BudgetExceededError";
  }
}

/** No key, unknown provider: say what to set. */
export class LlmUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LlmUnavailableError";
  }
}

/** The provider answered (and billed: `usage`) without a choice to read. */
export class EmptyAnswerError extends Error {
  constructor(
    message: string,
    readonly usage: Usage,
  ) {
    super(message);
    this.name = "EmptyAnswerError";
  }
}

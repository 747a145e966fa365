import { countTokens as cl100kCount } from "gpt-tokenizer/encoding/cl100k_base";
import { countTokens as o200kCount } from "gpt-tokenizer/encoding/o200k_base";
import type { ChatCompletionMessageParam } from "openai/resources/chat/completions";
import type { RepoConfig } from "../config/schema.js";
import type { WorkerEnv } from "../core/worker-contract.js";
import { sha256 } from "../util/hash.js";
import type { ApproxFamily, ProviderName } from "./providers.js";
import { DEFAULT_PROVIDER, PROVIDER_TABLE, providerSpec } from "./providers.js";
import type { ChatRequest } from "./types.js";

/**
 * Token counts for budgets, batching and cache-prefix sizing: one counter per provider and model.
 *
 * - OpenAI models are counted exactly with gpt-tokenizer, in the model's encoding: cl100k_base
 *   for gpt-4 / gpt-3.5 / the embeddings of that time, o200k_base for everything newer (gpt-4o,
 *   gpt-4.1, gpt-4.5, gpt-5, the o-series), which is also gpt-tokenizer's default for new models.
 * - Other families are approximated: the o200k_base count times the family's factor
 *   (APPROX_FACTORS). The factors lean high on purpose: an estimate that is too big stops a
 *   budget early and plans one batch more; one that is too small overfills a call. The spend
 *   that is recorded is always the provider's own `usage`, never the estimate.
 */
export interface TokenCounter {
  /** What counts (`o200k_base`, `cl100k_base`, `o200k_base×1.25`): part of cache keys. */
  readonly id: string;
  /** True when this is the model's own tokenizer (OpenAI models). */
  readonly exact: boolean;
  /** Tokens of a text. */
  count(text: string): number;
  /** Prompt tokens of a chat request: messages with their framing, tools, the JSON schema. */
  prompt(req: Pick<ChatRequest, "messages" | "tools" | "format">): number;
}

export type Encoding = "o200k_base" | "cl100k_base";

/**
 * o200k_base tokens × factor for the families without a local tokenizer. Why these numbers:
 * - anthropic 1.25: Claude's tokenizer (not published) produces about 15–30 % more tokens than
 *   o200k_base on English and code in public comparisons, and Anthropic says its newest
 *   tokenizer counts up to 35 % more than the previous one for the same text; 1.25 is the middle.
 * - gemini 1.15: Gemini's SentencePiece vocabulary (256k) is as large as o200k's; Google's rule
 *   of thumb (a token is about 4 characters) matches o200k on prose, and code runs a little higher.
 * - deepseek 1.15: DeepSeek V3's 128k BPE vocabulary is close to cl100k_base, which needs
 *   about 5–15 % more tokens than o200k_base on code.
 * - unknown 1.3: any other model behind an OpenAI-compatible server, counted high.
 */
export const APPROX_FACTORS: Readonly<Record<ApproxFamily, number>> = {
  anthropic: 1.25,
  gemini: 1.15,
  deepseek: 1.15,
  unknown: 1.3,
};

/**
 * Model families by name, for `by-model` providers (openai-compatible servers, which may run any
 * model): OpenAI's names are counted exactly, the others approximated.
 */
const MODEL_FAMILIES: readonly { test: RegExp; family: ApproxFamily | "exact" }[] = [
  { test: /^(openai\/)?(gpt-|o\d|chatgpt-|text-embedding-|codex-)/i, family: "exact" },
  { test: /claude|anthropic/i, family: "anthropic" },
  { test: /gemini|gemma/i, family: "gemini" },
  { test: /deepseek/i, family: "deepseek" },
];

/** cl100k_base for the models from before gpt-4o, o200k_base for everything else. */
export function encodingOf(model: string): Encoding {
  const m = model.toLowerCase().replace(/^openai\//, "");
  if (/^gpt-4o|^gpt-4\.\d|^gpt-4-?o/.test(m)) return "o200k_base";
  if (/^gpt-4|^gpt-3\.5|^text-embedding-(ada|3)|^text-davinci/.test(m)) return "cl100k_base";
  return "o200k_base";
}

/**
 * Chat framing per OpenAI's cookbook count: every message adds its role and separators (about 4
 * tokens), every reply is primed with 3. gpt-tokenizer's encodeChat agrees within a few tokens.
 */
export const TOKENS_PER_MESSAGE = 4;
export const TOKENS_PER_REPLY = 3;

/** Texts at least this long have their counts kept by content hash (the shared prefix). */
const CACHE_MIN_CHARS = 2_048;
const CACHE_MAX_ENTRIES = 256;
const counts = new Map<string, number>();

/** Special tokens in the text (`<|endoftext|>` in an issue) are counted as ordinary text. */
const AS_TEXT = { disallowedSpecial: new Set<string>() };

function baseCount(encoding: Encoding, text: string): number {
  if (!text) return 0;
  const count = encoding === "o200k_base" ? o200kCount : cl100kCount;
  if (text.length < CACHE_MIN_CHARS) return count(text, AS_TEXT);
  const key = `${encoding}:${sha256(text)}`;
  const hit = counts.get(key);
  if (hit !== undefined) {
    // Least recently used goes first.
    counts.delete(key);
    counts.set(key, hit);
    return hit;
  }
  const n = count(text, AS_TEXT);
  counts.set(key, n);
  if (counts.size > CACHE_MAX_ENTRIES) counts.delete(counts.keys().next().value!);
  return n;
}

const contentText = (m: ChatCompletionMessageParam): string => {
  const c = (m as { content?: unknown }).content;
  if (typeof c === "string") return c;
  if (Array.isArray(c))
    return c
      .map((p: unknown) =>
        p && typeof p === "object" && "text" in p && typeof p.text === "string"
          ? p.text
          : JSON.stringify(p),
      )
      .join("");
  return c === undefined || c === null ? "" : JSON.stringify(c);
};

function makeCounter(encoding: Encoding, factor: number): TokenCounter {
  const exact = factor === 1;
  const count = (text: string): number => {
    const n = baseCount(encoding, text);
    return exact ? n : Math.ceil(n * factor);
  };
  return {
    id: exact ? encoding : `${encoding}×${factor}`,
    exact,
    count,
    prompt(req) {
      let n = TOKENS_PER_REPLY;
      for (const m of req.messages) {
        n += TOKENS_PER_MESSAGE + count(contentText(m));
        const calls = (m as { tool_calls?: unknown }).tool_calls;
        if (calls) n += count(JSON.stringify(calls));
      }
      if (req.tools?.length) n += count(JSON.stringify(req.tools));
      if (req.format?.type === "json_schema") n += count(JSON.stringify(req.format.schema));
      return n;
    },
  };
}

const counters = new Map<string, TokenCounter>();

/** The counter for a provider and model (PROVIDER_TABLE's `tokenizer`), made once. */
export function tokenCounterFor(provider: ProviderName, model: string): TokenCounter {
  const key = `${provider}|${model}`;
  let c = counters.get(key);
  if (c) return c;
  const t = providerSpec(provider).tokenizer;
  const family: ApproxFamily | "exact" =
    t.kind === "exact"
      ? "exact"
      : t.kind === "approx"
        ? t.family
        : (MODEL_FAMILIES.find((f) => f.test.test(model))?.family ?? "unknown");
  c =
    family === "exact"
      ? makeCounter(encodingOf(model), 1)
      : makeCounter("o200k_base", APPROX_FACTORS[family]);
  if (counters.size > 64) counters.clear();
  counters.set(key, c);
  return c;
}

/** The default provider's default model (gpt-4o-mini: o200k_base), for counts with no model. */
export const DEFAULT_COUNTER: TokenCounter = makeCounter("o200k_base", 1);

/**
 * The counter of a repository's calls: its provider, and `llm.model` or the app's model; the
 * default provider's when the LLM is not configured (dry runs say what it would cost anyway).
 */
export function counterFor(ctx: {
  env: Pick<WorkerEnv, "llm">;
  config: Pick<RepoConfig, "llm">;
}): TokenCounter {
  const s = ctx.env.llm;
  const provider = s instanceof Error ? DEFAULT_PROVIDER : s.provider;
  const model =
    ctx.config.llm.model ??
    (s instanceof Error ? PROVIDER_TABLE[DEFAULT_PROVIDER].preset.model : s.model);
  return tokenCounterFor(provider, model);
}

/** Drops the counts kept by content hash (tests, benchmarks). */
export function clearTokenCounts(): void {
  counts.clear();
}

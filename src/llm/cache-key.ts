import type { ChatCompletionMessageParam } from "openai/resources/chat/completions";
import { sha256 } from "../util/hash.js";

/** A request's cacheable prefix: its leading system messages (project context, instructions). */
export interface PromptPrefix {
  /** The leading system messages. */
  messages: ChatCompletionMessageParam[];
  /** Their texts, in order. */
  texts: string[];
  /** What follows them (the issues, the fix's files). */
  rest: ChatCompletionMessageParam[];
  /** sha256 of the texts, hex: the same bytes give the same hash on every machine. */
  hash: string;
}

/** The leading run of system messages with text content, and the rest. */
export function splitPrefix(messages: readonly ChatCompletionMessageParam[]): PromptPrefix {
  let i = 0;
  const texts: string[] = [];
  for (; i < messages.length; i++) {
    const m = messages[i]!;
    if ((m.role !== "system" && m.role !== "developer") || typeof m.content !== "string") break;
    texts.push(m.content);
  }
  return {
    messages: messages.slice(0, i),
    texts,
    rest: messages.slice(i),
    hash: sha256(JSON.stringify(texts)),
  };
}

/**
 * OpenAI's `prompt_cache_key` for a repository's call: `bg-agent:<repo>:<prefix>`, where `<repo>`
 * is 16 hex digits of sha256 of the lower-cased `owner/name` and `<prefix>` 12 of the prefix's
 * hash. Stable across calls, runs and machines for one repository and prefix, different across
 * repositories. The name is hashed rather than written so it does not appear in OpenAI's
 * request metadata or logs (the prompt itself still names the repository: this is no secret).
 * OpenAI routes requests with the same key and prefix to the same cache (about 15 requests a
 * minute per key stay together), so one repository's batches read each other's prefix.
 */
export function promptCacheKey(
  repoName: string,
  messages: readonly ChatCompletionMessageParam[],
): string {
  const repo = sha256(`repo:${repoName.toLowerCase()}`).slice(0, 16);
  return `bg-agent:${repo}:${splitPrefix(messages).hash.slice(0, 12)}`;
}

import type { ChatRequest, ChatResult, Llm } from "../../src/llm/types.js";

/**
 * A scripted LLM for processor tests: each call takes the next reply (a string is the assistant's
 * content; a function sees the request). Calls are recorded.
 */
export function fakeLlm(
  replies: (
    | string
    | ((
        req: ChatRequest,
      ) => string | ChatResult["message"] | Promise<string | ChatResult["message"]>)
  )[],
  usage = { promptTokens: 100, cachedTokens: 0, completionTokens: 20, costUsd: 0.0001 },
): Llm & { calls: ChatRequest[] } {
  const calls: ChatRequest[] = [];
  return {
    provider: "openai",
    model: "fake-model",
    calls,
    async chat(req) {
      calls.push(req);
      const next = replies.shift();
      if (next === undefined) throw new Error("fakeLlm: no scripted reply left");
      const out = typeof next === "function" ? await next(req) : next;
      const message =
        typeof out === "string" ? { role: "assistant" as const, content: out, refusal: null } : out;
      return {
        message,
        usage,
        raw: {
          id: "fake",
          object: "chat.completion",
          created: 0,
          model: "fake-model",
          choices: [{ index: 0, finish_reason: "stop", logprobs: null, message }],
        },
        finishReason: "stop",
      };
    },
  };
}

/**
 * An OpenAI chat completion's response body with one assistant message, for nock replies and
 * loopback servers: `usage` as the API reports it (`prompt_tokens`, `completion_tokens`, …).
 */
export function chatCompletionBody(
  content: string,
  usage: Record<string, unknown>,
  o: { id?: string; model?: string; finishReason?: string } = {},
): Record<string, unknown> {
  return {
    id: o.id ?? "c",
    object: "chat.completion",
    created: 1,
    model: o.model ?? "m",
    choices: [
      {
        index: 0,
        finish_reason: o.finishReason ?? "stop",
        logprobs: null,
        message: { role: "assistant", content, refusal: null },
      },
    ],
    usage,
  };
}

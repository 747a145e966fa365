import type { ChatCompletionMessageParam } from "openai/resources/chat/completions";
import type { Llm } from "../../llm/types.js";
import type { Usage } from "../../core/domain.js";
import type { EditPolicy, FileChange } from "./edits.js";
import { EDITS_JSON_SCHEMA, parseEditsAnswer, planEdits } from "./edits.js";
import { retryMessage } from "./prompt.js";
import type { ProvingTest } from "./proving-test-schema.js";
import { cleanTest } from "./proving-test-schema.js";

export const MAX_OUTPUT_TOKENS = 16_000;

export type RoundResult =
  | { ok: true; changes: FileChange[]; summary: string; test?: ProvingTest }
  | { ok: false; kind: "refused" | "conflict"; error: string };

export const addUsage = (a: Usage, b: Usage): Usage => ({
  promptTokens: a.promptTokens + b.promptTokens,
  cachedTokens: a.cachedTokens + b.cachedTokens,
  completionTokens: a.completionTokens + b.completionTokens,
  costUsd: a.costUsd + b.costUsd,
});

/**
 * One round of edits: ask, validate, plan. An answer that is not in the format or does not apply
 * cleanly gets exactly one more try with the error; a safety refusal ends the round at once.
 * The conversation (`messages`) grows in place, so the cached prefix stays the same.
 */
export async function editRound(o: {
  llm: Llm;
  messages: ChatCompletionMessageParam[];
  policy: EditPolicy;
  onUsage: (u: Usage) => void;
  tried: string[];
  label: string;
}): Promise<RoundResult> {
  for (let attempt = 1; attempt <= 2; attempt++) {
    const res = await o.llm.chat({
      // A copy: the conversation grows after the call.
      messages: [...o.messages],
      format: { type: "json_schema", name: "fix_edits", schema: EDITS_JSON_SCHEMA },
      maxOutputTokens: MAX_OUTPUT_TOKENS,
      purpose: "fix",
    });
    o.onUsage(res.usage);
    const content = res.message.content ?? "";
    o.messages.push({ role: "assistant", content });
    const where = attempt === 1 ? o.label : `${o.label} (retry)`;
    const parsed = parseEditsAnswer(content);
    let error: string;
    if (!parsed.ok) error = parsed.error;
    else {
      const planned = await planEdits(parsed.answer, o.policy);
      if (planned.ok && planned.changes.length) {
        o.tried.push(`${where}: edits to ${planned.changes.map((c) => c.path).join(", ")}`);
        const test = cleanTest(parsed.answer.test);
        return {
          ok: true,
          changes: planned.changes,
          summary: parsed.answer.summary ?? "",
          ...(test ? { test } : {}),
        };
      }
      if (!planned.ok && planned.kind === "refused") {
        o.tried.push(`${where}: ${planned.error}`);
        return planned;
      }
      error = planned.ok ? "the edits change nothing" : planned.error;
    }
    o.tried.push(`${where}: ${error}`);
    if (attempt === 1) o.messages.push({ role: "user", content: retryMessage(error) });
    else return { ok: false, kind: "conflict", error };
  }
  return { ok: false, kind: "conflict", error: "unreachable" };
}

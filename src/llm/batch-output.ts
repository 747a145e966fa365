import { z } from "zod";
import type { Usage } from "../core/domain.js";
import { batchCostOf } from "./pricing.js";
import type { ProviderName } from "./providers.js";
import { readUsage } from "./usage.js";

/** One line of a job's output file, by custom_id. */
export type BatchLineResult =
  { ok: true; content: string; usage: Usage } | { ok: false; error: string; usage: Usage };

const lineSchema = z.object({
  custom_id: z.string(),
  response: z.object({ status_code: z.number(), body: z.unknown() }).nullish(),
  error: z.object({ message: z.string().nullish(), code: z.string().nullish() }).nullish(),
});

const completionSchema = z.object({
  choices: z.array(z.object({ message: z.object({ content: z.string().nullish() }) })).min(1),
  usage: z.unknown().optional(),
});

/**
 * Parses a Batch API output file (JSONL): per custom_id the answer's text or the error, and the
 * usage of every line at the batch price (batchCostOf: BATCH_DISCOUNT, and cached tokens at
 * batchCachedRate). Lines that are not JSON or not a batch line are skipped.
 */
export function parseBatchOutput(
  text: string,
  price: Parameters<typeof readUsage>[2],
  provider: ProviderName = "openai",
): Map<string, BatchLineResult> {
  const out = new Map<string, BatchLineResult>();
  for (const raw of text.split("\n")) {
    if (!raw.trim()) continue;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      continue;
    }
    const l = lineSchema.safeParse(json);
    if (!l.success) continue;
    const { custom_id: id, response, error } = l.data;
    const body = completionSchema.safeParse(response?.body);
    const tokens = readUsage(provider, body.success ? body.data.usage : undefined, price);
    const usage = { ...tokens, costUsd: batchCostOf(tokens, price) };
    if (error || !response || response.status_code !== 200 || !body.success) {
      const why =
        error?.message ??
        (response && response.status_code !== 200
          ? `HTTP ${response.status_code}`
          : "no chat completion in the response");
      out.set(id, { ok: false, error: why, usage });
      continue;
    }
    out.set(id, { ok: true, content: body.data.choices[0]?.message.content ?? "", usage });
  }
  return out;
}

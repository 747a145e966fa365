import { z } from "zod";

/** A `tech_debt_analysis` task's payload (the contract in HELPER-BRIEF; extra fields optional). */
export const analysisPayloadSchema = z.object({
  key: z.string().min(1),
  number: z.number().int().positive().optional(),
  title: z.string().default(""),
  body: z.string().nullish(),
  url: z.string().optional(),
  /** Length of the original body when the sweep stored it cut. */
  bodyLength: z.number().int().min(0).optional(),
  /** The issue's labels when known (saves a label removal call). */
  labels: z.array(z.string()).optional(),
  /** Linear's UUID of the issue. */
  linearId: z.string().optional(),
});
export type AnalysisPayload = z.infer<typeof analysisPayloadSchema>;

export const COMPLEXITIES = ["low", "medium", "high"] as const;

/** One analysis as the model must return it. */
export const analysisItemSchema = z.object({
  issue: z.string().min(1),
  should_fix: z.boolean(),
  complexity: z.enum(COMPLEXITIES),
  plan: z.string().min(1).max(8_000),
  affected_files: z.array(z.string().max(400)).max(100),
});
export type AnalysisItem = z.infer<typeof analysisItemSchema>;

/** The same shape as a strict JSON schema for `response_format` (every key required, nothing extra). */
export const ANALYSIS_JSON_SCHEMA: Record<string, unknown> = {
  type: "object",
  properties: {
    analyses: {
      type: "array",
      items: {
        type: "object",
        properties: {
          issue: { type: "string", description: "The issue key exactly as given" },
          should_fix: { type: "boolean" },
          complexity: { type: "string", enum: [...COMPLEXITIES] },
          plan: { type: "string", description: "Markdown: why, and the steps of the fix" },
          affected_files: { type: "array", items: { type: "string" } },
        },
        required: ["issue", "should_fix", "complexity", "plan", "affected_files"],
        additionalProperties: false,
      },
    },
  },
  required: ["analyses"],
  additionalProperties: false,
};

export interface ParsedAnswer {
  /** Valid items by issue key (the first valid one wins). */
  items: Map<string, AnalysisItem>;
  /** Why keys were not usable, by key (malformed items that still named their key). */
  problems: Map<string, string>;
  /** Set when the answer as a whole was not usable JSON. */
  error?: string;
}

/** Parses a model's answer; never throws. Each item is validated on its own. */
export function parseAnswer(content: string | null | undefined): ParsedAnswer {
  const items = new Map<string, AnalysisItem>();
  const problems = new Map<string, string>();
  let json: unknown;
  try {
    const text = (content ?? "").trim().replace(/^```(?:json)?\s*|\s*```$/g, "");
    json = JSON.parse(text);
  } catch (e) {
    return { items, problems, error: `the answer is not JSON: ${(e as Error).message}` };
  }
  const list = (json as { analyses?: unknown } | null)?.analyses;
  if (!Array.isArray(list)) return { items, problems, error: "the answer has no `analyses` array" };
  for (const raw of list) {
    const r = analysisItemSchema.safeParse(raw);
    if (r.success) {
      if (!items.has(r.data.issue)) items.set(r.data.issue, r.data);
      continue;
    }
    const key = (raw as { issue?: unknown } | null)?.issue;
    if (typeof key === "string" && !items.has(key)) {
      problems.set(
        key,
        r.error.issues.map((i) => `${i.path.join(".") || "(item)"}: ${i.message}`).join("; "),
      );
    }
  }
  return { items, problems };
}

import { z } from "zod";
import { readState } from "../../report/markers.js";
import { COMPLEXITIES } from "./schema.js";
import type { AnalysisItem } from "./schema.js";

/** The plan kept in the state block: the model's own limit (schema.ts), so it is never cut. */
export const STATE_PLAN_MAX = 8_000;
/** The affected files kept in the state block: at most this many, and this many characters together. */
export const STATE_FILES_MAX = 100;
export const STATE_FILES_CHARS = 8_000;

/**
 * What a later run reads back from bg-agent's analysis comment (standalone runs keep no store).
 * Version 1 throughout: `plan` and `reanalyse` were added as optional fields, so readers of the
 * first version (which ignore unknown keys) keep working, and a comment without `plan` is one
 * written before plans were kept here.
 */
export interface AnalysisState {
  v: 1;
  key: string;
  /** The content hash (`issueContentHash(title, body)`) the analysis was made at; "" once re-analysis was asked for. */
  hash: string;
  should_fix: boolean;
  complexity: AnalysisItem["complexity"];
  affected_files: string[];
  /** The model's plan, raw (the visible comment shows it sanitised): what an approved fix carries out. */
  plan?: string;
  /** Set when a person approved a comment without a plan: the next sweep analyses the issue again. */
  reanalyse?: true;
}

const stateSchema = z.object({
  v: z.literal(1),
  key: z.string().min(1).max(300),
  hash: z.string().max(200),
  should_fix: z.boolean(),
  complexity: z.enum(COMPLEXITIES),
  affected_files: z.array(z.string().max(400)).max(STATE_FILES_MAX).default([]),
  plan: z.string().max(STATE_PLAN_MAX).optional(),
  reanalyse: z.literal(true).optional(),
});

/** The state block of an analysis comment, validated; undefined when absent or not this shape. */
export function readAnalysisState(body: string | null | undefined): AnalysisState | undefined {
  const r = stateSchema.safeParse(readState(body));
  if (!r.success) return undefined;
  const { plan, reanalyse, ...rest } = r.data;
  return {
    ...rest,
    ...(plan !== undefined ? { plan } : {}),
    ...(reanalyse ? { reanalyse } : {}),
  };
}

/** The affected files that fit the state block (order kept). */
export function filesForState(files: readonly string[]): string[] {
  const out: string[] = [];
  let chars = 0;
  for (const f of files.slice(0, STATE_FILES_MAX)) {
    if (f.length > 400 || chars + f.length > STATE_FILES_CHARS) break;
    out.push(f);
    chars += f.length;
  }
  return out;
}

/** The state block's content for an analysis. */
export function analysisState(key: string, hash: string, a: AnalysisItem): AnalysisState {
  return {
    v: 1,
    key,
    hash,
    should_fix: a.should_fix,
    complexity: a.complexity,
    affected_files: filesForState(a.affected_files),
    plan: a.plan.slice(0, STATE_PLAN_MAX),
  };
}

import type { Removed } from "../../context/hidden-text.js";
import { addRemoved, stripHidden } from "../../context/hidden-text.js";
import type { Usage } from "../../core/domain.js";
import type { Task } from "../../core/domain.js";
import { hashOf } from "../../util/hash.js";
import type { ProcessorContext } from "../../core/worker-contract.js";
import type { NamedFile } from "./issue-files.js";
import type { PromptIssue } from "./prompt.js";
import { counterFor } from "../../llm/tokens.js";
import { issueTokens } from "./prompt.js";
import type { AnalysisPayload } from "./schema.js";
import { analysisPayloadSchema } from "./schema.js";

export interface Item {
  task: Task;
  payload: AnalysisPayload;
  source: "github" | "linear";
  key: string;
  hash: string;
  number?: number;
  prompt: PromptIssue;
  tokens: number;
  /** Hidden text removed from the title and body before the prompt. */
  removed: Removed;
  /** Files the issue names, read for its batch (src/processors/analysis/issue-files.ts). */
  namedFiles?: NamedFile[];
  /** Paths the issue names outside the repository, ignored. */
  ignoredPaths?: number;
  /** The footer of its analysis: what the model saw of the repository. */
  seen?: string;
}

/** A claimed task as the analysis sees it: its issue, cleaned and cut for the prompt. */
export function toItem(ctx: ProcessorContext, task: Task): Item | string {
  const p = analysisPayloadSchema.safeParse(task.payload);
  if (!p.success)
    return `invalid task payload: ${p.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`;
  const payload = p.data;
  const linear = /^linear:(.+)$/.exec(task.source);
  const gh = /^issue:(\d+)$/.exec(task.source);
  if (!linear && !gh) return `unknown source ${task.source}: expected issue:<n> or linear:<ID>`;
  const number = payload.number ?? (gh ? Number(gh[1]) : undefined);
  const body = payload.body ?? "";
  const max = ctx.config.tech_debt.max_issue_chars;
  const original = Math.max(payload.bodyLength ?? 0, body.length);
  // Hidden text (HTML comments, invisible characters) never reaches the model: removed before
  // the cut, and said in the posted analysis. The content hash stays the original text's.
  const title = stripHidden(payload.title);
  const visible = stripHidden(body);
  const cut = visible.text.length > max || original > body.length;
  const prompt: PromptIssue = {
    key: payload.key,
    title: title.text.slice(0, 500),
    body: visible.text.length > max ? visible.text.slice(0, max) : visible.text,
    ...(cut ? { truncatedFrom: original } : {}),
  };
  return {
    task,
    payload,
    source: linear ? "linear" : "github",
    key: payload.key,
    hash: task.contentHash ?? hashOf({ title: payload.title, body }),
    ...(number !== undefined ? { number } : {}),
    prompt,
    tokens: issueTokens(prompt, counterFor(ctx)),
    removed: addRemoved(title.removed, visible.removed),
  };
}

/** One item's share of a call's usage. */
export const share = (u: Usage, n: number): Usage => ({
  promptTokens: Math.round(u.promptTokens / n),
  cachedTokens: Math.round(u.cachedTokens / n),
  completionTokens: Math.round(u.completionTokens / n),
  costUsd: u.costUsd / n,
});

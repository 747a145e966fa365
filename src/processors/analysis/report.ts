import type { Proposal } from "../../store/proposals.js";
import type { Usage } from "../../core/domain.js";
import { removeInvisible } from "../../context/hidden-text.js";
import type { LinkPolicy } from "../../report/link-policy.js";
import { sanitize, sanitizeInline } from "../../report/sanitize.js";
import { stateBlock } from "../../report/markers.js";
import type { AnalysisItem } from "./schema.js";
import { analysisState } from "./state.js";

export type { AnalysisState } from "./state.js";

export interface CommentInput {
  key: string;
  hash: string;
  analysis: AnalysisItem;
  model: string;
  truncatedFrom?: number;
  truncatedTo?: number;
  proposal?: Proposal;
  /** How people approve: on the issue itself (GitHub) or on the dashboard issue (Linear). */
  approveHint: string;
  /** Linear: no hidden HTML (the state block is GitHub-only). */
  forLinear?: boolean;
  /** What hidden text was removed from the issue before analysis, in words. */
  removed?: string;
  /** Which links in the model's plan stay clickable (default: none). */
  links?: LinkPolicy;
  /** What the model saw of the repository (src/processors/analysis/seen.ts). */
  seen?: string;
}

const fmt = (n: number): string => n.toLocaleString("en-US");

/**
 * A path from the model, shown inside a code span: nothing in a code span links, loads or pings,
 * so it only must not end the span (no backticks, no line breaks) nor hold invisible characters.
 * (Sanitising it would add code spans of its own inside this one, and end it.)
 */
const safePath = (p: string): string =>
  removeInvisible(p)
    .replace(/[`\r\n]/g, " ")
    .replace(/</g, "&lt;")
    .slice(0, 300);

/** The analysis comment. All model text is sanitised; only bg-agent's own lines are not. */
export function renderAnalysis(c: CommentInput): string {
  const a = c.analysis;
  const lines: string[] = [];
  lines.push(`### bg-agent analysis: ${a.should_fix ? "worth fixing" : "not worth fixing now"}`);
  lines.push("");
  lines.push(
    `**Verdict:** ${a.should_fix ? "should fix" : "won't fix"} · **Complexity:** ${a.complexity}`,
  );
  lines.push("");
  lines.push("**Plan**");
  lines.push("");
  lines.push(sanitize(a.plan.trim(), 6_000, c.links));
  lines.push("");
  const files = a.affected_files.slice(0, 30);
  if (files.length) {
    lines.push("**Affected files**");
    lines.push("");
    for (const f of files) lines.push(`- \`${safePath(f)}\``);
    if (a.affected_files.length > files.length)
      lines.push(`- … and ${a.affected_files.length - files.length} more`);
    lines.push("");
  }
  if (c.removed) {
    lines.push(
      `_Removed before analysis: ${c.removed}. Hidden text is never shown to the model; edit the issue if it mattered._`,
    );
    lines.push("");
  }
  if (c.truncatedFrom !== undefined) {
    lines.push(
      `_Note: the issue text is long (${fmt(c.truncatedFrom)} characters); only the first ${fmt(c.truncatedTo ?? 0)} were analysed._`,
    );
    lines.push("");
  }
  if (c.seen) {
    lines.push(`<sub>${removeInvisible(c.seen).replace(/[\r\n<>]/g, " ")}</sub>`);
    lines.push("");
  }
  lines.push(
    `<sub>Analysed by bg-agent (${sanitizeInline(c.model, 80)}). Issue text is treated as data; this analysis cannot merge, approve or run anything.</sub>`,
  );
  lines.push("");
  if (a.should_fix && c.proposal) {
    const p = c.proposal;
    if (p.status === "rejected") {
      lines.push(
        `A fix for this version of the issue was rejected${p.decidedBy ? ` by ${sanitizeInline(p.decidedBy, 60)}` : ""}; bg-agent will not propose it again unless the issue changes.`,
      );
    } else if (p.status === "approved") {
      lines.push(
        `The fix was approved${p.decidedBy ? ` by ${sanitizeInline(p.decidedBy, 60)}` : ""}.`,
      );
    } else {
      lines.push(c.approveHint);
    }
    lines.push("");
  }
  const body = lines.join("\n").trimEnd();
  if (c.forLinear) return body;
  return `${body}\n${stateBlock(analysisState(c.key, c.hash, a))}`;
}

export const githubApproveHint =
  "To have bg-agent prepare this fix, a maintainer comments `/bg approve` on this issue (`/bg reject` to decline). bg-agent then opens a pull request labelled `bg:fix`, which is never merged without a human review.";

export const linearApproveHint = (key: string, repo: string): string =>
  `To have bg-agent prepare this fix, a maintainer comments \`/bg approve ${key}\` on the bg-agent dashboard issue of ${repo} (any issue of that repository works; \`/bg reject ${key}\` declines). The fix arrives as a pull request labelled \`bg:fix\`, never merged without a human review.`;

export interface BatchReport {
  no: number;
  issues: number;
  usage: Usage;
  ok: number;
  failed: number;
  deferred: number;
}

export interface IssueLine {
  key: string;
  url?: string;
  verdict: "should fix" | "won't fix" | "failed" | "deferred" | "skipped";
  complexity?: string;
  note?: string;
}

const pct = (a: number, b: number): string => (b > 0 ? `${Math.round((a / b) * 100)}%` : "0%");

/** The `bg-agent/analysis` check run: issues, tokens, cache hits, cost for the run so far. */
export function renderCheckRun(
  repo: string,
  batches: BatchReport[],
  issues: IssueLine[],
  notes: string[],
  budget: { today: number; daily: number; month: number; monthly: number },
  model: string,
): { title: string; summary: string; text: string } {
  const should = issues.filter((i) => i.verdict === "should fix").length;
  const wont = issues.filter((i) => i.verdict === "won't fix").length;
  const bad = issues.filter((i) => i.verdict === "failed").length;
  const deferred = issues.filter((i) => i.verdict === "deferred").length;
  const parts = [`${should} should fix`, `${wont} won't fix`];
  if (bad) parts.push(`${bad} failed`);
  if (deferred) parts.push(`${deferred} deferred`);
  const title = `Analysed ${should + wont} issue(s): ${parts.join(", ")}`;
  const tot = batches.reduce(
    (t, b) => ({
      promptTokens: t.promptTokens + b.usage.promptTokens,
      cachedTokens: t.cachedTokens + b.usage.cachedTokens,
      completionTokens: t.completionTokens + b.usage.completionTokens,
      costUsd: t.costUsd + b.usage.costUsd,
    }),
    { promptTokens: 0, cachedTokens: 0, completionTokens: 0, costUsd: 0 },
  );
  const rows = batches.map(
    (b) =>
      `| ${b.no} | ${b.issues} | ${fmt(b.usage.promptTokens)} | ${fmt(b.usage.cachedTokens)} (${pct(b.usage.cachedTokens, b.usage.promptTokens)}) | ${fmt(b.usage.completionTokens)} | $${b.usage.costUsd.toFixed(5)} |`,
  );
  const summary = [
    ...(notes.length ? [...notes.map((n) => `> ${n}`), ""] : []),
    `Model: ${model}. ${batches.length} batch(es) in this run for ${repo}.`,
    "",
    "| Batch | Issues | Prompt tokens | Cached (hit rate) | Completion tokens | Cost |",
    "|---:|---:|---:|---:|---:|---:|",
    ...rows,
    `| **Total** | ${batches.reduce((n, b) => n + b.issues, 0)} | ${fmt(tot.promptTokens)} | ${fmt(tot.cachedTokens)} (${pct(tot.cachedTokens, tot.promptTokens)}) | ${fmt(tot.completionTokens)} | $${tot.costUsd.toFixed(5)} |`,
    "",
    `Budget: today $${budget.today.toFixed(4)} of $${budget.daily.toFixed(2)}, this month $${budget.month.toFixed(4)} of $${budget.monthly.toFixed(2)}.`,
  ].join("\n");
  const text = [
    "| Issue | Verdict | Complexity | Note |",
    "|---|---|---|---|",
    ...issues.map(
      (i) =>
        `| ${i.url ? `[${sanitizeInline(i.key, 80)}](${i.url})` : sanitizeInline(i.key, 80)} | ${i.verdict} | ${i.complexity ?? ""} | ${sanitizeInline(i.note ?? "", 200)} |`,
    ),
  ].join("\n");
  return { title, summary, text };
}

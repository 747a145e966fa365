import { describeRemoved, removedAnything, stripHidden } from "../../context/hidden-text.js";
import type { ProcessorContext } from "../../core/worker-contract.js";
import type { FixSubject } from "./report.js";

export type Target = { kind: "issue"; number: number } | { kind: "linear"; identifier: string };

/** `issue:12` or `linear:ENG-123`; anything else is not a fix target. */
export function parseTarget(text: string): Target | null {
  const issue = /^issue:(\d{1,9})$/.exec(text);
  if (issue) return { kind: "issue", number: Number(issue[1]) };
  const linear = /^linear:([A-Z][A-Z0-9]{0,9}-\d{1,7})$/.exec(text);
  if (linear) return { kind: "linear", identifier: linear[1]! };
  return null;
}

/** bg-agent's branch for a fix: `bg/fix-12` or `bg/fix-ENG-123`. */
export const branchFor = (t: Target): string =>
  `bg/fix-${t.kind === "issue" ? t.number : t.identifier}`;

export type SubjectResult =
  { ok: true; subject: FixSubject } | { ok: false; closed: true; reason: string };

/** Loads the issue's title (and Linear's id and URL) for the PR; a closed issue is not fixed. */
export async function loadSubject(
  ctx: ProcessorContext,
  key: string,
  target: Target,
): Promise<SubjectResult> {
  if (target.kind === "issue") {
    const { data } = await ctx.octokit.rest.issues.get({
      ...ctx.repo,
      issue_number: target.number,
    });
    if (data.state === "closed")
      return { ok: false, closed: true, reason: `issue #${target.number} is closed` };
    return {
      ok: true,
      subject: {
        key,
        target: `issue:${target.number}`,
        issueNumber: target.number,
        ...visibleTitle(data.title),
        branch: branchFor(target),
      },
    };
  }
  const issue = ctx.env.linear ? await ctx.env.linear.getIssue(target.identifier) : null;
  return {
    ok: true,
    subject: {
      key,
      target: `linear:${target.identifier}`,
      linear: { identifier: target.identifier, ...(issue ? { id: issue.id, url: issue.url } : {}) },
      ...visibleTitle(issue?.title ?? target.identifier),
      branch: branchFor(target),
    },
  };
}

/** The title without hidden text (it goes into the prompt, the commit and the PR), and what was removed. */
function visibleTitle(title: string): { title: string; removed?: string } {
  const v = stripHidden(title);
  return {
    title: v.text,
    ...(removedAnything(v.removed) ? { removed: describeRemoved(v.removed) } : {}),
  };
}

import type { LinearGateway } from "../../integrations/linear-types.js";
import { LINEAR_ID_RE } from "../../integrations/linear-types.js";
import type { Logger } from "../../log.js";
import { sanitizeInline } from "../../report/sanitize.js";
import type { Condition, Evaluation } from "./types.js";
import { CONDITION_LABELS } from "./types.js";

export const CHECK_NAME = "bg-agent/automerge";

/** One table row per condition, met or not, with GitHub's facts as the detail. */
export function conditionsTable(conditions: readonly Condition[]): string {
  const rows = conditions.map(
    (c) => `| ${c.met ? "✅" : "❌"} | ${CONDITION_LABELS[c.id]} | ${cell(c.detail)} |`,
  );
  return ["| | Condition | Detail |", "| --- | --- | --- |", ...rows].join("\n");
}

/**
 * Details come from GitHub (check names, logins, branch names): no HTML, no pings, no line breaks
 * that would end the table row. Code spans stay as they are.
 */
const cell = (text: string): string =>
  text
    .split(/(`[^`]*`)/)
    .map((part) =>
      part.startsWith("`") && part.endsWith("`") && part.length > 1
        ? part.replace(/\|/g, "\\|")
        : sanitizeInline(part, 500),
    )
    .join("");

export const conditionLine = (c: Condition): string => `${CONDITION_LABELS[c.id]}: ${c.detail}`;

/** The check run's summary: the headline, the table, what happens next. */
export function checkRunSummary(ev: Evaluation, headline: string, next: string): string {
  const s = ev.snapshot;
  const lines = [
    `**${headline}**`,
    "",
    conditionsTable(ev.conditions),
    "",
    `**Next:** ${next}`,
    "",
    `Evaluated at ${s.headSha.slice(0, 7)} from GitHub state alone (checks, reviews, labels, mergeability); the PR's text is never read as an instruction.`,
  ];
  return lines.join("\n");
}

/** The comment bg-agent leaves on a PR it merged (marker kind `automerge-merged`). */
export function mergedComment(ev: Evaluation, how: string): string {
  return [
    `bg-agent ${how} at ${ev.snapshot.headSha.slice(0, 7)}: every condition was met.`,
    "",
    "<details><summary>Conditions</summary>",
    "",
    conditionsTable(ev.conditions),
    "",
    "</details>",
  ].join("\n");
}

/** Linear identifiers linked from the PR: branch name, title, body (in that order, at most 5). */
export function linkedLinearIds(s: { headRef: string; title: string; body: string }): string[] {
  const found: string[] = [];
  for (const text of [s.headRef.toUpperCase(), s.title, s.body]) {
    for (const m of text.matchAll(LINEAR_ID_RE)) {
      const id = m[1]!;
      if (!found.includes(id)) found.push(id);
    }
  }
  return found.slice(0, 5);
}

/**
 * Comments on each linked Linear issue and moves it to `doneState`. Identifiers that are not
 * Linear issues (e.g. `UTF-8`) are skipped; a Linear failure is logged, never undoes the merge.
 */
export async function updateLinear(
  linear: LinearGateway,
  s: { headRef: string; title: string; body: string; url: string; number: number; repo: string },
  doneState: string,
  log: Logger,
): Promise<string[]> {
  const updated: string[] = [];
  for (const id of linkedLinearIds(s)) {
    try {
      const issue = await linear.getIssue(id);
      if (!issue) continue;
      await linear.comment(issue.id, `Merged by bg-agent: [${s.repo}#${s.number}](${s.url})`);
      if (issue.state !== doneState) await linear.moveToState(issue.id, issue.teamKey, doneState);
      updated.push(issue.identifier);
    } catch (e) {
      log.warn({ err: e, linear: id }, "could not update the linked Linear issue");
    }
  }
  return updated;
}

import type { TaskConfig } from "../../config/schema.js";
import { publishCheckRun } from "../../report/check-runs.js";
import type { CheckConclusion } from "../../report/check-runs.js";
import { upsertComment } from "../../report/comments.js";
import { findDashboardIssue } from "../../report/dashboard-issue.js";
import { stateBlock } from "../../report/markers.js";
import type { LinkPolicy } from "../../report/link-policy.js";
import { linkPolicyFor } from "../../report/link-policy.js";
import { sanitize, sanitizeInline } from "../../report/sanitize.js";
import type { Usage } from "../../core/domain.js";
import { sha256 } from "../../util/hash.js";
import type { ProcessorContext } from "../../core/worker-contract.js";

/**
 * The result as compared by `notify: on_change`: Unicode NFC, LF line ends, runs of spaces and
 * tabs collapsed, blank-line runs collapsed, surrounding whitespace trimmed. Case and wording
 * count as changes; re-flowed whitespace does not.
 */
export function normaliseResult(text: string): string {
  return text
    .normalize("NFC")
    .replace(/\r\n?/g, "\n")
    .split("\n")
    .map((l) => l.replace(/[ \t\u00a0]+/g, " ").trim())
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}

export const resultHash = (text: string): string => sha256(normaliseResult(text));

export type ReportKind = "result" | "failure" | "paused";

export interface Report {
  kind: ReportKind;
  name: string;
  /** One line about the trigger and run, bg-agent's own words. */
  meta: string;
  /** The model's answer (results) or the error (failures): untrusted, sanitised here. */
  text: string;
  usage?: Usage;
  model?: string;
  /** What a later run (or a standalone Action) can read back. */
  state: Record<string, unknown>;
  /** Which links in the model's text stay clickable (default: none; postReport sets the repository's). */
  links?: LinkPolicy;
}

const usd = (n: number): string => `$${n.toFixed(4)}`;

/** The Markdown bg-agent posts: a heading of its own, the sanitised text, a footer, a state block. */
export function formatReport(r: Report): string {
  const heading =
    r.kind === "result"
      ? `### bg-agent task \`${r.name}\``
      : r.kind === "paused"
        ? `### bg-agent task \`${r.name}\` is paused`
        : `### bg-agent task \`${r.name}\` failed`;
  const body =
    r.kind === "result"
      ? sanitize(r.text, 20_000, r.links)
      : `${r.kind === "paused" ? `It failed twice in a row, so it will not run on its schedule again until its definition in \`.github/bg-agent.yml\` changes or a \`/bg run ${r.name}\` succeeds.` : "It will be retried once."}\n\n> ${sanitizeInline(r.text, 1_000)}`;
  const footer = [
    r.meta,
    r.model,
    r.usage ? `${r.usage.promptTokens + r.usage.completionTokens} tokens` : undefined,
    r.usage ? usd(r.usage.costUsd) : undefined,
  ]
    .filter(Boolean)
    .join(" · ");
  return `${heading}\n\n${body}\n\n<sub>${footer}</sub>\n${stateBlock(r.state)}`;
}

export interface Posted {
  url: string | null;
  where: string;
}

/**
 * Posts a report where the task says: an issue number or the dashboard issue (one comment per
 * task, found by its `task:<name>` marker and updated in place, so the thread stays calm), or a
 * check run `bg-agent/task/<name>` on the default branch head. Dry-run: logs, posts nothing.
 */
export async function postReport(
  ctx: ProcessorContext,
  spec: Pick<TaskConfig, "report_to">,
  r: Report,
): Promise<Posted> {
  const body = formatReport({ links: linkPolicyFor(ctx), ...r });
  const target = spec.report_to;
  const where = typeof target === "number" ? `#${target}` : target;
  if (ctx.env.dryRun) {
    ctx.log.info(
      { task: r.name, where, kind: r.kind, body },
      "dry-run: would post the task report",
    );
    return { url: null, where };
  }
  if (target === "check_run") {
    const branch = (await ctx.store.repos.get(ctx.repoName))?.defaultBranch ?? "HEAD";
    const { data: commit } = await ctx.octokit.rest.repos.getCommit({ ...ctx.repo, ref: branch });
    const conclusion: CheckConclusion = r.kind === "result" ? "neutral" : "failure";
    const firstLine = normaliseResult(r.text).split("\n")[0] ?? "";
    const posted = await publishCheckRun(ctx.octokit, ctx.repo, {
      name: `bg-agent/task/${r.name}`,
      headSha: commit.sha,
      conclusion,
      title:
        r.kind === "result"
          ? sanitizeInline(firstLine || r.name, 200)
          : `${r.name} ${r.kind === "paused" ? "is paused" : "failed"}`,
      summary: body,
    });
    return { url: posted.url, where: `check run on ${commit.sha.slice(0, 7)}` };
  }
  let issue: number;
  if (target === "dashboard") {
    const d = await findDashboardIssue(ctx.octokit, ctx.repo, {
      title: ctx.config.dashboard.issue_title,
      create: true,
    });
    if (!d) throw new Error("the dashboard issue could not be found or created");
    issue = d.number;
  } else {
    issue = target;
  }
  const posted = await upsertComment(ctx.octokit, ctx.repo, issue, "task", r.name, body);
  return { url: posted.url, where: `#${issue}` };
}

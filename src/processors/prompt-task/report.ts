import { randomUUID } from "node:crypto";
import { reportTargets, targetLabel } from "../../config/report-to.js";
import type { ReportTarget } from "../../config/report-to.js";
import type { TaskConfig } from "../../config/schema.js";
import { deliverExternal } from "../../report/targets/deliver.js";
import type { DeliveryOptions, DeliveryOutcome } from "../../report/targets/deliver.js";
import { chatSafe } from "../../report/targets/text.js";
import type { OutboundReport } from "../../report/targets/types.js";
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
  /** bg-agent's own Markdown after the body (targets outside GitHub that were not reached). */
  note?: string;
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
  return `${heading}\n\n${body}${r.note ?? ""}\n\n<sub>${footer}</sub>\n${stateBlock(r.state)}`;
}

export interface Posted {
  url: string | null;
  where: string;
  /** Reports sent outside GitHub (`slack:NAME`, …) and how each went. */
  deliveries: DeliveryOutcome[];
}

/** How reports outside GitHub are sent (tests inject the environment and the waits). */
export type ReportOptions = DeliveryOptions;

/**
 * Posts a report to each target the task's `report_to` names. GitHub targets: an issue number or
 * the dashboard issue (one comment per task, found by its `task:<name>` marker and updated in
 * place, so the thread stays calm), or a check run `bg-agent/task/<name>` on the default branch
 * head. Outside GitHub (`slack:NAME`, `discord:NAME`, `webhook:NAME`): sent first, with retries
 * (src/report/targets/deliver.ts); when one was not delivered (its variable unset, or it kept
 * failing), the GitHub report says so, and goes to the dashboard issue too when no GitHub target
 * was named, so the result is never lost. Dry-run: logs, posts nothing.
 */
export async function postReport(
  ctx: ProcessorContext,
  spec: Pick<TaskConfig, "report_to">,
  r: Report,
  o: ReportOptions & { runId?: number | null } = {},
): Promise<Posted> {
  const targets = reportTargets(spec.report_to);
  const where = targets.map(targetLabel).join(", ");
  if (ctx.env.dryRun) {
    const body = formatReport({ links: linkPolicyFor(ctx), ...r });
    ctx.log.info(
      { task: r.name, where, kind: r.kind, body },
      "dry-run: would post the task report",
    );
    return { url: null, where, deliveries: [] };
  }
  const deliveries: DeliveryOutcome[] = [];
  const at = Date.now();
  for (const t of targets) {
    if (!("env" in t)) continue;
    const out = await deliverExternal(t, outbound(ctx, r, at), o);
    deliveries.push(out);
    await ctx.store.reports.record(
      {
        repo: ctx.repoName,
        task: r.name,
        target: out.target,
        status: out.status,
        attempts: out.attempts,
        error: out.error,
        runId: o.runId ?? null,
      },
      Date.now(),
    );
    if (out.status !== "delivered")
      ctx.log.warn({ task: r.name, target: out.target, why: out.error }, "report not delivered");
  }
  const missed = deliveries.filter((d) => d.status !== "delivered");
  const github = targets.filter((t): t is GitHubTarget => !("env" in t));
  if (missed.length && !github.some((t) => t.kind === "dashboard"))
    github.push({ kind: "dashboard" });
  const note = missed.length
    ? `\n\n> [!WARNING]\n${missed.map((m) => `> Not delivered to \`${m.target}\`: ${sanitizeInline(m.error ?? "failed", 300)}.`).join("\n")}`
    : "";
  const body = formatReport({ links: linkPolicyFor(ctx), ...r, note });
  let first: { url: string | null; where: string } | null = null;
  for (const t of github) {
    const posted = await postToGitHub(ctx, t, r, body);
    first ??= posted;
  }
  return {
    url: first?.url ?? null,
    where: [first?.where, ...deliveries.map((d) => `${d.target} (${d.status})`)]
      .filter(Boolean)
      .join(", "),
    deliveries,
  };
}

type GitHubTarget = Exclude<ReportTarget, { env: string }>;

/** The report as it leaves GitHub. */
function outbound(ctx: ProcessorContext, r: Report, at: number): OutboundReport {
  const title =
    r.kind === "result"
      ? `bg-agent task ${r.name} (${ctx.repoName})`
      : r.kind === "paused"
        ? `bg-agent task ${r.name} is paused (${ctx.repoName})`
        : `bg-agent task ${r.name} failed (${ctx.repoName})`;
  const text =
    r.kind === "result"
      ? chatSafe(r.text)
      : `${r.kind === "paused" ? "It failed twice in a row and is paused until its definition changes or a /bg run succeeds." : "It will be retried once."}\n${chatSafe(r.text, 1_000)}`;
  return {
    kind: r.kind,
    repo: ctx.repoName,
    task: r.name,
    title: chatSafe(title, 200),
    text,
    meta: chatSafe([r.meta, r.model].filter(Boolean).join(" · "), 500),
    url: null,
    deliveryId: randomUUID(),
    at,
  };
}

async function postToGitHub(
  ctx: ProcessorContext,
  target: GitHubTarget,
  r: Report,
  body: string,
): Promise<{ url: string | null; where: string }> {
  if (target.kind === "check_run") {
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
  if (target.kind === "dashboard") {
    const d = await findDashboardIssue(ctx.octokit, ctx.repo, {
      title: ctx.config.dashboard.issue_title,
      create: true,
    });
    if (!d) throw new Error("the dashboard issue could not be found or created");
    issue = d.number;
  } else {
    issue = target.number;
  }
  const posted = await upsertComment(ctx.octokit, ctx.repo, issue, "task", r.name, body);
  return { url: posted.url, where: `#${issue}` };
}

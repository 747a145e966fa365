import { ownComments } from "../../report/own-comments.js";
import { hashOf } from "../../util/hash.js";
import type { ProcessorContext } from "../../core/worker-contract.js";
import { readAnalysisState } from "./state.js";

export interface SweepResult {
  github: number;
  linear: number;
  enqueued: number;
  current: number;
}

/** Keys: `owner/repo#12` for GitHub issues, the identifier for Linear. */
export const githubKey = (repo: string, n: number): string => `${repo}#${n}`;

/** True when this content was analysed and reported (store first, then bg-agent's own comment). */
async function alreadyAnalysed(
  ctx: ProcessorContext,
  key: string,
  hash: string,
  issue?: { number: number; comments: number },
): Promise<boolean> {
  const prev = await ctx.store.analyses.get(key);
  if (prev) return prev.contentHash === hash && prev.commentUrl !== null;
  // Standalone runs start with an empty store: bg-agent's analysis comment holds the hash.
  if (!issue || issue.comments === 0) return false;
  const comments = await ctx.octokit.paginate(ctx.octokit.rest.issues.listComments, {
    ...ctx.repo,
    issue_number: issue.number,
    per_page: 100,
  });
  // bg-agent's own comment only: a person's copy of the marker does not make an issue analysed.
  const mine = ownComments(comments, "analysis", key, ctx.env.selfLogin?.()).at(-1);
  const state = readAnalysisState(mine?.body);
  if (!mine || !state || state.hash !== hash) return false;
  if (!ctx.env.dryRun) {
    // Remember it, so the next sweep needs no comment read.
    await ctx.store.analyses.save({
      key,
      repo: ctx.repoName,
      source: "github",
      contentHash: hash,
      shouldFix: state.should_fix,
      complexity: state.complexity,
      plan: state.plan ?? "",
      affectedFiles: state.affected_files,
      batchId: null,
      commentUrl: mine.html_url,
    });
  }
  return true;
}

/**
 * Finds the open tech-debt issues (GitHub labels, Linear team/states/labels) and queues the
 * ones not analysed at their current content. Tasks go to the queue even in a dry-run (the pass
 * puts them back untouched): that is what lets a dry-run show what it would analyse.
 */
export async function sweepAnalysis(ctx: ProcessorContext): Promise<SweepResult> {
  const cfg = ctx.config.tech_debt;
  const res: SweepResult = { github: 0, linear: 0, enqueued: 0, current: 0 };
  if (!cfg.enabled) return res;
  const log = ctx.log.child({ sweep: "tech_debt_analysis" });
  const maxStored = cfg.max_issue_chars;

  const found = new Map<
    number,
    { number: number; title: string; body: string; url: string; labels: string[]; comments: number }
  >();
  for (const label of cfg.github.labels) {
    const issues = await ctx.octokit.paginate(ctx.octokit.rest.issues.listForRepo, {
      ...ctx.repo,
      state: "open",
      labels: label,
      per_page: 100,
    });
    for (const i of issues) {
      if (i.pull_request || found.has(i.number)) continue;
      found.set(i.number, {
        number: i.number,
        title: i.title,
        body: i.body ?? "",
        url: i.html_url,
        labels: i.labels.map((l) => (typeof l === "string" ? l : (l.name ?? ""))).filter(Boolean),
        comments: i.comments,
      });
    }
  }
  res.github = found.size;
  for (const i of [...found.values()].sort((a, b) => a.number - b.number)) {
    const key = githubKey(ctx.repoName, i.number);
    const hash = hashOf({ title: i.title, body: i.body });
    if (await alreadyAnalysed(ctx, key, hash, i)) {
      res.current++;
      continue;
    }
    const r = await ctx.store.tasks.enqueue({
      repo: ctx.repoName,
      type: "tech_debt_analysis",
      source: `issue:${i.number}`,
      payload: {
        key,
        number: i.number,
        title: i.title,
        body: i.body.slice(0, maxStored),
        bodyLength: i.body.length,
        url: i.url,
        labels: i.labels,
      },
      contentHash: hash,
    });
    if (r.outcome !== "unchanged") res.enqueued++;
  }

  const lc = cfg.linear;
  if (lc) {
    if (!ctx.env.linear) {
      log.warn(
        "tech_debt.linear is configured but LINEAR_API_KEY is not set: Linear issues are skipped",
      );
    } else {
      const issues = await ctx.env.linear.listIssues({
        team: lc.team,
        states: lc.states,
        labels: lc.labels,
      });
      res.linear = issues.length;
      for (const i of issues) {
        const hash = hashOf({ title: i.title, body: i.description });
        if (await alreadyAnalysed(ctx, i.identifier, hash)) {
          res.current++;
          continue;
        }
        const r = await ctx.store.tasks.enqueue({
          repo: ctx.repoName,
          type: "tech_debt_analysis",
          source: `linear:${i.identifier}`,
          payload: {
            key: i.identifier,
            title: i.title,
            body: i.description.slice(0, maxStored),
            bodyLength: i.description.length,
            url: i.url,
            linearId: i.id,
          },
          contentHash: hash,
        });
        if (r.outcome !== "unchanged") res.enqueued++;
      }
    }
  }
  const what = `${res.github} GitHub and ${res.linear} Linear tech-debt issue(s); ${res.current} already analysed, ${res.enqueued} queued`;
  if (res.github + res.linear === 0) {
    log.info(
      `no open tech-debt issues (labels: ${cfg.github.labels.join(", ") || "none"}): nothing to analyse`,
    );
  } else log.info(res, what);
  return res;
}

import { describeRemoved, removedAnything } from "../../context/hidden-text.js";
import { httpStatus, isRefusal, rateLimitedUntil } from "../../integrations/github.js";
import { upsertComment } from "../../report/comments.js";
import { linkPolicyFor } from "../../report/link-policy.js";
import type { Usage } from "../../core/domain.js";
import { errText } from "../../util/errors.js";
import type { ProcessorContext, TaskOutcome } from "../../core/worker-contract.js";
import type { Item } from "./item.js";
import { githubApproveHint, linearApproveHint, renderAnalysis } from "./report.js";
import type { AnalysisItem } from "./schema.js";

/** Posts one analysis where people look (GitHub comment + label, or Linear comment + state). */
async function publish(
  ctx: ProcessorContext,
  it: Item,
  a: AnalysisItem,
  model: string,
): Promise<string> {
  const repo = ctx.repoName;
  let proposal;
  if (a.should_fix) {
    proposal = await ctx.store.proposals.propose({
      repo,
      kind: "fix",
      target: it.task.source,
      contentHash: it.hash,
      payload: {
        key: it.key,
        plan: a.plan,
        affectedFiles: a.affected_files,
        complexity: a.complexity,
      },
    });
  } else {
    const open = await ctx.store.proposals.latest(repo, it.task.source, "fix");
    if (open?.status === "proposed")
      await ctx.store.proposals.decide(
        open.id,
        "expired",
        "bg-agent",
        "re-analysed: not worth fixing now",
      );
  }
  const common = {
    key: it.key,
    hash: it.hash,
    analysis: a,
    model,
    ...(it.prompt.truncatedFrom !== undefined
      ? { truncatedFrom: it.prompt.truncatedFrom, truncatedTo: it.prompt.body.length }
      : {}),
    ...(proposal ? { proposal } : {}),
    ...(removedAnything(it.removed) ? { removed: describeRemoved(it.removed) } : {}),
    ...(it.seen ? { seen: it.seen } : {}),
    links: linkPolicyFor(ctx),
  };
  if (it.source === "linear") {
    const linear = ctx.env.linear;
    if (!linear)
      throw new Error("LINEAR_API_KEY is not set: the analysis of a Linear issue cannot be posted");
    const id = it.payload.linearId ?? it.key;
    await linear.comment(
      id,
      renderAnalysis({ ...common, forLinear: true, approveHint: linearApproveHint(it.key, repo) }),
    );
    const state = ctx.config.tech_debt.linear?.analysed_state;
    const team = ctx.config.tech_debt.linear?.team ?? it.key.split("-")[0] ?? "";
    if (state) await linear.moveToState(id, team, state);
    return it.payload.url ?? `linear:${it.key}`;
  }
  if (it.number === undefined) throw new Error(`no issue number for ${it.key}`);
  const body = renderAnalysis({ ...common, approveHint: githubApproveHint });
  const c = await upsertComment(ctx.octokit, ctx.repo, it.number, "analysis", it.key, body);
  const { should_fix: shouldLabel, wont_fix: wontLabel } = ctx.config.tech_debt.labels;
  const [add, remove] = a.should_fix ? [shouldLabel, wontLabel] : [wontLabel, shouldLabel];
  const known = it.payload.labels;
  if (!known?.includes(add)) {
    await ctx.octokit.rest.issues.addLabels({
      ...ctx.repo,
      issue_number: it.number,
      labels: [add],
    });
  }
  if (!known || known.includes(remove)) {
    try {
      await ctx.octokit.rest.issues.removeLabel({
        ...ctx.repo,
        issue_number: it.number,
        name: remove,
      });
    } catch (e) {
      if (httpStatus(e) !== 404) throw e;
    }
  }
  return c.url;
}

/**
 * Stores an analysis as not reported yet (`commentUrl` null: `save` keeps an earlier URL, so it is
 * cleared), so a failed report is retried later without a new LLM call.
 */
export async function saveAnalysis(
  ctx: ProcessorContext,
  it: Item,
  a: AnalysisItem,
  batchId: number | null,
): Promise<void> {
  await ctx.store.analyses.save({
    key: it.key,
    repo: ctx.repoName,
    source: it.source,
    contentHash: it.hash,
    shouldFix: a.should_fix,
    complexity: a.complexity,
    plan: a.plan,
    affectedFiles: a.affected_files,
    batchId,
    commentUrl: null,
  });
  await ctx.store.analyses.setCommentUrl(it.key, null);
}

/** A failed analysis run, linked to the item itself (a Linear issue's URL from its sweep) for the dashboard. */
export async function recordFailedRun(
  ctx: ProcessorContext,
  it: Item,
  batchId: number | null,
  error: string,
  usage: Usage,
): Promise<void> {
  await ctx.store.runs.record({
    repo: ctx.repoName,
    kind: "analysis",
    ref: it.key,
    ...(it.payload.url ? { url: it.payload.url } : {}),
    taskId: it.task.id,
    batchId,
    status: "failed",
    error,
    usage,
  });
}

/** Saves the (paid-for) analysis, then reports it; a failed report is retried without a new call. */
export async function record(
  ctx: ProcessorContext,
  it: Item,
  a: AnalysisItem,
  batchId: number | null,
  usage: Usage,
  model: string,
): Promise<TaskOutcome> {
  await saveAnalysis(ctx, it, a, batchId);
  const log = ctx.log.child({ item: it.key });
  try {
    const url = await publish(ctx, it, a, model);
    await ctx.store.analyses.setCommentUrl(it.key, url);
    await ctx.store.runs.record({
      repo: ctx.repoName,
      kind: "analysis",
      ref: it.key,
      url,
      taskId: it.task.id,
      batchId,
      status: "ok",
      summary: `${a.should_fix ? "should fix" : "won't fix"} (${a.complexity})`,
      usage,
    });
    log.info({ shouldFix: a.should_fix, complexity: a.complexity }, "analysis posted");
    return {
      status: "done",
      result: { key: it.key, shouldFix: a.should_fix, complexity: a.complexity, url },
    };
  } catch (e) {
    const until = it.source === "github" ? rateLimitedUntil(e) : undefined;
    if (until !== undefined) {
      // A rate limit is a wait: the saved analysis is posted when it lifts, no attempt used.
      log.warn(
        { err: e, until: new Date(until).toISOString() },
        "report waits for GitHub's rate limit",
      );
      return {
        status: "retry",
        at: until,
        reason: `analysed; GitHub's rate limit holds the report until ${new Date(until).toISOString()} (${errText(e)})`,
      };
    }
    const status = httpStatus(e);
    // 404/410: the issue was deleted or transferred; no later attempt can post on it.
    const gone = status === 404 || status === 410;
    // Any other refusal (422 validation, 403 not permitted): sending it again gets the same answer.
    const refused = it.source === "github" && isRefusal(e);
    const error = gone
      ? `analysed, but the issue is gone: GitHub answered ${status} (${errText(e)}); nothing was posted`
      : refused
        ? `analysed, but GitHub refused the report (${status}: ${errText(e)}); not retried`
        : `analysed, but the report could not be posted: ${errText(e)} (the next attempt posts it without a new LLM call)`;
    log.error({ err: e }, "report failed");
    await recordFailedRun(ctx, it, batchId, error, usage);
    return { status: "failed", error, ...(gone || refused ? { permanent: true } : {}) };
  }
}

import { llmFor } from "../../llm/for-context.js";
import type { Llm } from "../../llm/types.js";
import { BudgetExceededError } from "../../llm/types.js";
import type { Task, Usage } from "../../core/domain.js";
import { PausedError } from "../../core/paused.js";
import type { ProcessorContext, TaskOutcome } from "../../core/worker-contract.js";
import type { ApprovedPlan } from "./approved-plan.js";
import { addUsage } from "./edit-round.js";
import type { CarryOut, FixDeps } from "./fix-run.js";
import { loadSubject } from "./subject.js";
import type { Workspace } from "./workspace.js";
import { openWorkspace, remoteFromOctokit } from "./workspace.js";

const ZERO: Usage = { promptTokens: 0, cachedTokens: 0, completionTokens: 0, costUsd: 0 };

/** What a fix (or a revision) carries out: the approved plan and its issue. */
export type ApprovedFix = Extract<ApprovedPlan, { ok: true }>;

/** The steps in the workspace: a new fix, or a revision round of its pull request. */
export type WorkspaceSteps = (
  o: CarryOut,
  ws: Workspace,
  baseBranch: string,
) => Promise<TaskOutcome>;

/**
 * The model, the issue, the run's record and usage, then the workspace steps. A pause or a spent
 * budget is a wait (the fix or the round starts over later), not a failure.
 */
export async function startFix(
  ctx: ProcessorContext,
  task: Task,
  deps: FixDeps,
  approved: ApprovedFix,
  log: ProcessorContext["log"],
  steps: WorkspaceSteps,
): Promise<TaskOutcome> {
  const { key, proposal, plan, target } = approved;

  let llm: Llm;
  try {
    llm = llmFor(ctx);
  } catch (e) {
    return { status: "failed", error: `no LLM: ${(e as Error).message}` };
  }

  const subjectResult = await loadSubject(ctx, key, target);
  if (!subjectResult.ok) return { status: "skipped", reason: subjectResult.reason };
  const subject = subjectResult.subject;

  let usage = ZERO;
  const started = Date.now();
  const record = async (
    status: "ok" | "failed" | "waiting",
    summary: string,
    extra: { url?: string; error?: string } = {},
  ) => {
    if (ctx.env.dryRun) return;
    await ctx.store.runs.record({
      repo: ctx.repoName,
      kind: "fix",
      ref: subject.target,
      taskId: task.id,
      status,
      summary,
      usage,
      startedAt: started,
      // The PR when there is one; otherwise a Linear issue's own URL (GitHub issues' links are
      // derived from `issue:N`), so the dashboard links every fix run to its item.
      url: extra.url ?? subject.linear?.url ?? null,
      error: extra.error ?? null,
    });
  };
  try {
    return await carryOut(steps, {
      ctx,
      deps,
      llm,
      proposal,
      plan,
      subject,
      target,
      onUsage: (u) => (usage = addUsage(usage, u)),
      record,
      log,
    });
  } catch (e) {
    // People became active (or a pause arrived) between two rounds: the fix starts over later.
    if (e instanceof PausedError) {
      log.info({ why: e.state.reason }, "fix waits: the repository must wait now");
      return { status: "retry", at: e.retryAt, reason: e.message };
    }
    if (e instanceof BudgetExceededError) {
      log.warn({ err: e }, "fix waits for the budget");
      // Calls already made are on the record; a fix that could not start adds no row.
      if (usage.promptTokens > 0) await record("waiting", `budget: ${e.message}`);
      return { status: "retry", at: e.retryAt ?? Date.now() + 60 * 60_000, reason: e.message };
    }
    await record("failed", "error", { error: (e as Error).message });
    throw e;
  }
}

/** Opens the workspace (the checkout, or a clone), carries out the fix in it, removes it. */
async function carryOut(steps: WorkspaceSteps, o: CarryOut): Promise<TaskOutcome> {
  const { ctx, log } = o;
  const { data: repoInfo } = await ctx.octokit.rest.repos.get({ ...ctx.repo });
  const ws = await openWorkspace({
    ref: ctx.repo,
    baseBranch: repoInfo.default_branch,
    ...(ctx.env.workspace ? { checkout: ctx.env.workspace } : {}),
    remote: () => (o.deps.remote ? o.deps.remote(ctx) : remoteFromOctokit(ctx.octokit, ctx.repo)),
    log,
    ...(o.deps.tmpRoot ? { tmpRoot: o.deps.tmpRoot } : {}),
  });
  try {
    return await steps(o, ws, repoInfo.default_branch);
  } finally {
    await ws.cleanup();
    log.debug({ mode: ws.mode }, "fix: workspace removed");
  }
}

import { llmFor } from "../../llm/for-context.js";
import type { Llm } from "../../llm/types.js";
import { BudgetExceededError } from "../../llm/types.js";
import type { Usage } from "../../core/domain.js";
import type { Task } from "../../core/domain.js";
import { PausedError } from "../../core/paused.js";
import type { Processor, ProcessorContext, TaskOutcome } from "../../core/worker-contract.js";
import { loadApprovedPlan } from "./approved-plan.js";
import { addUsage } from "./edit-round.js";
import { applyEdits, askForEdits, prepareRun } from "./first-edit.js";
import type { CarryOut, FixDeps } from "./fix-run.js";
import { NoPullRequest, commitChanges, noPullRequest } from "./fix-run.js";
import { commentOnIssue } from "./issue-comment.js";
import { openPullRequest } from "./open-pr.js";
import { refusedComment } from "./report.js";
import { loadSubject } from "./subject.js";
import { baselineTests, testerFor } from "./test-run.js";
import { verifyChange } from "./verify.js";
import type { Workspace } from "./workspace.js";
import { openWorkspace, remoteFromOctokit } from "./workspace.js";

const ZERO: Usage = { promptTokens: 0, cachedTokens: 0, completionTokens: 0, costUsd: 0 };

/** The `fix` processor: an approved fix plan becomes a tested pull request. One fix per batch. */
export function createFixProcessor(deps: FixDeps = {}): Processor {
  return {
    type: "fix",
    usesLlm: true,
    batchSize: () => 1,
    async process(ctx, tasks) {
      const out = new Map<number, TaskOutcome>();
      for (const t of tasks) out.set(t.id, await fixOne(ctx, t, deps));
      return out;
    },
  };
}

/**
 * One fix: load the approved plan, check the model and the issue, then carry it out in a
 * workspace. A pause or a spent budget is a wait (the fix starts over later), not a failure.
 */
async function fixOne(ctx: ProcessorContext, task: Task, deps: FixDeps): Promise<TaskOutcome> {
  const approved = await loadApprovedPlan(ctx, task);
  if (!approved.ok && approved.invalid) {
    return {
      status: "failed",
      permanent: true,
      error: "a fix task needs the payload {key, proposalId}",
    };
  }
  const log = ctx.log.child({ fix: approved.key, task: task.id });
  if (!approved.ok) {
    log.warn({ reason: approved.reason }, "fix refused");
    await commentOnIssue(ctx, approved.key, approved.target, refusedComment(approved.reason));
    return { status: "failed", permanent: true, error: approved.reason };
  }
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
    return await carryOut({
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
async function carryOut(o: CarryOut): Promise<TaskOutcome> {
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
    return await inWorkspace(o, ws, repoInfo.default_branch);
  } finally {
    await ws.cleanup();
    log.debug({ mode: ws.mode }, "fix: workspace removed");
  }
}

/**
 * The fix in its workspace, step by step: ask for the edits, run the tests on the unchanged tree
 * (the baseline), write and commit the edits, test them (one repair round if they fail), then
 * push and open the pull request. A step that ends the fix without a pull request throws
 * NoPullRequest, reported on the issue with what was tried.
 */
async function inWorkspace(o: CarryOut, ws: Workspace, baseBranch: string): Promise<TaskOutcome> {
  const run = await prepareRun(o, ws, baseBranch);
  try {
    const edits = await askForEdits(run);
    const tester = testerFor(run);
    const failedBefore = await baselineTests(run, tester, edits.changes);
    await applyEdits(run, edits);
    await commitChanges(run);
    const verification = await verifyChange(run, tester, failedBefore);
    return await openPullRequest(run, verification);
  } catch (e) {
    if (e instanceof NoPullRequest) return noPullRequest(run, e);
    throw e;
  }
}

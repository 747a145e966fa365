import type { Task } from "../../core/domain.js";
import type { Processor, ProcessorContext, TaskOutcome } from "../../core/worker-contract.js";
import { loadApprovedPlan } from "./approved-plan.js";
import { applyEdits, askForEdits, prepareRun } from "./first-edit.js";
import type { CarryOut, FixDeps } from "./fix-run.js";
import { NoPullRequest, commitChanges, noPullRequest } from "./fix-run.js";
import { commentOnIssue } from "./issue-comment.js";
import { openPullRequest } from "./open-pr.js";
import { refusedComment } from "./report.js";
import { baselineTests, testerFor } from "./test-run.js";
import { verifyChange } from "./verify.js";
import { proveChange } from "./prove.js";
import type { Workspace } from "./workspace.js";
import { isRevision, reviseOne } from "./revise.js";
import { startFix } from "./start-fix.js";

/** The `fix` processor: an approved fix plan becomes a tested pull request. One fix per batch. */
export function createFixProcessor(deps: FixDeps = {}): Processor {
  return {
    type: "fix",
    usesLlm: true,
    batchSize: () => 1,
    async process(ctx, tasks) {
      const out = new Map<number, TaskOutcome>();
      for (const t of tasks)
        out.set(t.id, await (isRevision(t) ? reviseOne(ctx, t, deps) : fixOne(ctx, t, deps)));
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
  return startFix(ctx, task, deps, approved, log, inWorkspace);
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
    const tested = await verifyChange(run, tester, failedBefore);
    const { verification, proof } = await proveChange(run, tester, tested);
    return await openPullRequest(run, verification, proof);
  } catch (e) {
    if (e instanceof NoPullRequest) return noPullRequest(run, e);
    throw e;
  }
}

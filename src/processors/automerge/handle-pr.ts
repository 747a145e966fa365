import type { Task } from "../../core/domain.js";
import type { ProcessorContext } from "../../core/worker-contract.js";
import type { PrResult, Report } from "./decide.js";
import {
  mergeResultReport,
  notCandidateReport,
  resultOf,
  settleReport,
  waitingDetail,
  waitingReport,
} from "./decide.js";
import type { MergeResult } from "./merge.js";
import { mergeIfStillReady, updateBranch } from "./merge.js";
import type { MergeApi } from "./merge-api.js";
import type { Publish } from "./publish.js";
import { conditionLine, mergedComment } from "./report.js";
import type { Evaluation } from "./types.js";

/** One task's view of the processor: the context, the API and the report layer. */
export interface PrRun {
  ctx: ProcessorContext;
  api: MergeApi;
  task: Task | null;
  publish: Publish;
  settleMs: number;
  now: () => number;
}

/**
 * One PR, in named steps: evaluate it; a non-candidate is left (saying so once if bg-agent
 * reported on it); a ready one is merged (unless its base just took a merge); one only behind
 * gets its branch updated; anything else waits, with the reason on its check run.
 */
export async function handlePr(run: PrRun, number: number): Promise<PrResult> {
  const ev = await run.api.evaluate(number);
  if (!ev) return { pr: number, state: "missing", detail: `PR #${number} does not exist` };
  if (!ev.candidate) return leaveNonCandidate(run, ev);
  if (ev.ready) return mergeReady(run, ev);
  // Behind, and everything else holds: bring the branch up to date, then wait for its checks.
  const unmet = ev.conditions.filter((c) => !c.met);
  if (run.ctx.config.automerge.update_branch && unmet.length === 1 && unmet[0]!.id === "up_to_date")
    return bringUpToDate(run, ev);
  return waitFor(run, ev, "dry-run: would wait");
}

const publish = (run: PrRun, ev: Evaluation, r: Report): Promise<void> =>
  run.publish(
    { api: run.api, store: run.ctx.store, repoName: run.ctx.repoName, task: run.task },
    ev,
    r,
  );

/** Not a candidate: a PR bg-agent reported on before is told that it no longer considers it. */
async function leaveNonCandidate(run: PrRun, ev: Evaluation): Promise<PrResult> {
  const { ctx } = run;
  const s = ev.snapshot;
  const why = ev.firstUnmet ? conditionLine(ev.firstUnmet) : "not a candidate";
  ctx.log.child({ pr: s.number }).debug({ why }, "not an automerge candidate");
  if (!ctx.env.dryRun) {
    const prior = await ctx.store.automerge.get(ctx.repoName, s.number);
    const reported = prior?.headSha === s.headSha && prior.firstUnmet === why;
    if (prior && prior.state !== "merged" && prior.state !== "closed" && !reported) {
      const closed = s.state !== "open" || s.merged;
      if (closed) await ctx.store.automerge.save({ ...prior, state: "closed", firstUnmet: why });
      else await publish(run, ev, notCandidateReport(ev, why));
    }
  }
  return { pr: s.number, state: "not_candidate", detail: why };
}

/** Ready: wait if bg-agent just merged into its base, else merge (re-read, pinned to the head). */
async function mergeReady(run: PrRun, ev: Evaluation): Promise<PrResult> {
  const { ctx, now } = run;
  const s = ev.snapshot;
  const log = ctx.log.child({ pr: s.number });
  // When bg-agent (any replica) last merged into this base: kept in the store.
  const last = await ctx.store.automerge.lastMerge(ctx.repoName, s.baseRef);
  if (last !== undefined && now() - last < run.settleMs) {
    const r = settleReport(s.baseRef, last + run.settleMs, now());
    if (ctx.env.dryRun) log.info(`dry-run: would wait: ${r.next}`);
    else await publish(run, ev, r);
    return resultOf(s.number, r, r.headline);
  }
  if (ctx.env.dryRun) {
    log.info(
      `dry-run: would ${ev.via === "merge" ? "merge" : `hand to GitHub (${ev.via})`} #${s.number} with ${ev.method.method}`,
    );
    return {
      pr: s.number,
      state: "waiting",
      detail: `dry-run: would merge with ${ev.method.method}`,
    };
  }
  const { result, fresh } = await mergeIfStillReady(
    { api: run.api, cfg: ctx.config.automerge, log: ctx.log },
    ev,
  );
  return afterMerge(run, fresh, result, s.baseRef);
}

/** Only behind its base: update the branch (`automerge.update_branch`). */
async function bringUpToDate(run: PrRun, ev: Evaluation): Promise<PrResult> {
  if (run.ctx.env.dryRun) {
    run.ctx.log
      .child({ pr: ev.snapshot.number })
      .info(`dry-run: would update the branch of #${ev.snapshot.number}`);
    return { pr: ev.snapshot.number, state: "waiting", detail: "dry-run: would update the branch" };
  }
  return afterMerge(run, ev, await updateBranch(run.api, ev), null);
}

/** Not mergeable yet: report why and when bg-agent looks again. */
async function waitFor(run: PrRun, ev: Evaluation, dryRunNote: string | null): Promise<PrResult> {
  const r = waitingReport(ev, run.now());
  if (run.ctx.env.dryRun && dryRunNote !== null)
    run.ctx.log.child({ pr: ev.snapshot.number }).info(`${dryRunNote} (${r.headline}): ${r.next}`);
  else await publish(run, ev, r);
  return resultOf(ev.snapshot.number, r, waitingDetail(ev, r));
}

/** Reports what the merge (or branch update) did; a merge also comments and moves Linear issues. */
async function afterMerge(
  run: PrRun,
  ev: Evaluation,
  result: MergeResult,
  base: string | null,
): Promise<PrResult> {
  const { ctx, now } = run;
  const s = ev.snapshot;
  if (result.kind === "not_ready") {
    // The re-read found something unmet: report the fresh evaluation.
    if (!ev.candidate || ev.ready)
      return { pr: s.number, state: "not_candidate", detail: "changed before merging" };
    return waitFor(run, ev, null);
  }
  // GitHub's auto-merge may merge at once; a merge queue orders its entries itself.
  if (
    base !== null &&
    (result.kind === "merged" || (result.kind === "queued" && result.via === "auto_merge"))
  )
    await ctx.store.automerge.recordMerge(ctx.repoName, base, now());
  const { report, detail } = mergeResultReport(result, now());
  await publish(run, ev, report);
  if (result.kind === "merged") {
    await run.api.comment({
      pr: s.number,
      kind: "automerge-merged",
      body: mergedComment(ev, detail),
    });
    const done = await run.api.moveLinear(s, ctx.config.automerge.linear_done_state);
    if (done.length) ctx.log.info({ pr: s.number, linear: done }, "moved linked Linear issues");
  }
  return resultOf(s.number, report, detail);
}

import type { ProjectContext } from "../../context/project-context.js";
import type { Logger } from "../../log.js";
import type { Llm } from "../../llm/types.js";
import { EmptyAnswerError } from "../../llm/types.js";
import { addUsage, ZERO_USAGE } from "../../llm/usage.js";
import type { Usage } from "../../core/domain.js";
import { errText } from "../../util/errors.js";
import type { ProcessorContext, TaskOutcome } from "../../core/worker-contract.js";
import { batchFiles } from "./issue-files.js";
import type { Item } from "./item.js";
import { seenFooter } from "./seen.js";
import { share } from "./item.js";
import { analysisRequest } from "./prompt.js";
import { record, recordFailedRun, saveAnalysis } from "./record.js";
import type { RunReport } from "./run-report.js";
import type { AnalysisItem } from "./schema.js";
import { parseAnswer } from "./schema.js";
import type { Stop } from "./stop.js";
import { deferOutcome, stopNote, stopOf } from "./stop.js";

/** One planned batch on its way: what its calls answered, cost and left unusable. */
interface BatchRun {
  ctx: ProcessorContext;
  llm: Llm;
  context: ProjectContext;
  mode: "json_schema" | "json_object";
  batch: Item[];
  batchId: number;
  out: Map<number, TaskOutcome>;
  report: RunReport;
  log: Logger;
  total: Usage;
  results: Map<string, { a: AnalysisItem; usage: Usage }>;
  problems: Map<string, string>;
  stop: Stop | null;
}

/**
 * One planned batch: call → validate → retry the unusable alone → save → report → finish.
 * Returns the stop that ended LLM work, if any (the remaining batches then wait).
 */
export async function runBatch(
  ctx: ProcessorContext,
  llm: Llm,
  context: ProjectContext,
  batch: Item[],
  mode: "json_schema" | "json_object",
  out: Map<number, TaskOutcome>,
  report: RunReport,
): Promise<Stop | null> {
  const run: BatchRun = {
    ctx,
    llm,
    context,
    mode,
    batch,
    batchId: await ctx.store.batches.start({
      repo: ctx.repoName,
      type: "tech_debt_analysis",
      provider: llm.provider,
      model: llm.model,
      taskIds: batch.map((b) => b.task.id),
    }),
    out,
    report,
    log: ctx.log.child({ batch: batch.map((b) => b.key) }),
    total: ZERO_USAGE,
    results: new Map(),
    problems: new Map(),
    stop: null,
  };
  if (!(await askBatch(run))) return run.stop;
  await retryUnusable(run);
  await saveAll(run);
  const ok = await reportAll(run);
  await finish(run, ok);
  return run.stop;
}

const addCost = async (run: BatchRun, usage: Usage): Promise<void> => {
  run.total = addUsage(run.total, usage);
  await run.ctx.store.batches.addUsage(run.batchId, usage);
};

const pushBatchReport = (
  run: BatchRun,
  counts: { ok: number; failed: number; deferred: number },
): void => {
  run.report.batches.push({
    no: run.report.batches.length + 1,
    issues: run.batch.length,
    usage: run.total,
    ...counts,
  });
};

const failed = (run: BatchRun, it: Item, error: string): void => {
  run.out.set(it.task.id, { status: "failed", error });
  run.report.issues.push({ key: it.key, verdict: "failed", note: error });
};

/**
 * The batch's call, its answer validated item by item. An answer cut off at the output limit
 * (`finish_reason: length`) is asked again in two halves, down to single issues, rather than
 * retrying every issue alone. False when the first call itself failed or was stopped: then every
 * item has its outcome and the batch is finished. A later call that fails or is stopped leaves
 * the answers already in hand to be saved and posted, the others failed or deferred.
 */
async function askBatch(run: BatchRun): Promise<boolean> {
  const { ctx, batch } = run;
  try {
    await ask(run, batch);
    return true;
  } catch (e) {
    const stop = stopOf(e);
    const error = `the LLM call failed: ${errText(e)}`;
    if (!stop) run.log.error({ err: e }, error);
    // Answered without a choice: billed all the same, so the batch shows what it cost.
    if (!stop && e instanceof EmptyAnswerError) await addCost(run, e.usage);
    if (run.results.size > 0) {
      // Some halves were answered: they go on; the rest is deferred (retryUnusable does it
      // under the stop) or failed.
      run.stop = stop;
      if (!stop)
        for (const it of batch)
          if (!run.results.has(it.key) && !run.problems.has(it.key)) failed(run, it, error);
      return true;
    }
    run.stop = stop;
    if (stop) {
      for (const it of batch) run.out.set(it.task.id, deferOutcome(stop));
      await ctx.store.batches.finish(run.batchId, "failed", stopNote(stop));
      pushBatchReport(run, { ok: 0, failed: 0, deferred: batch.length });
      return false;
    }
    for (const it of batch) failed(run, it, error);
    await ctx.store.batches.finish(run.batchId, "failed", error);
    pushBatchReport(run, { ok: 0, failed: batch.length, deferred: 0 });
    return false;
  }
}

/** One call for `items`; cut off at the output limit with more than one issue: each half again. */
async function ask(run: BatchRun, items: Item[]): Promise<void> {
  const files = batchFiles(items, run.ctx.config.tech_debt.context.issue_file_tokens);
  for (const it of items) it.seen = seenFooter(run.context, files.seen.get(it.key)!);
  const req = analysisRequest(
    run.context.text,
    items.map((b) => b.prompt),
    run.mode,
    files.text,
  );
  const r = await run.llm.chat(items === run.batch ? req : { ...req, purpose: "analysis-split" });
  await addCost(run, r.usage);
  const cutOff = r.finishReason === "length";
  if (cutOff && items.length > 1) {
    run.log.warn(
      { issues: items.length, maxOutputTokens: req.maxOutputTokens },
      "the answer was cut off at the output limit: asking again in two halves",
    );
    const half = Math.ceil(items.length / 2);
    await ask(run, items.slice(0, half));
    await ask(run, items.slice(half));
    return;
  }
  const parsed = parseAnswer(r.message.content);
  const each = share(r.usage, items.length);
  for (const it of items) {
    const a = parsed.items.get(it.key);
    if (a) run.results.set(it.key, { a, usage: each });
    // Cut off with this issue alone: the same request again would be cut off again.
    else if (cutOff)
      failed(
        run,
        it,
        `the answer for ${it.key} was cut off at the output limit (${req.maxOutputTokens} tokens) even alone`,
      );
    else
      run.problems.set(
        it.key,
        parsed.problems.get(it.key) ?? parsed.error ?? "missing from the answer",
      );
  }
}

/** Missing or malformed: once more, alone. Never more, and never at the cost of the others. */
async function retryUnusable(run: BatchRun): Promise<void> {
  for (const it of run.batch) {
    if (run.results.has(it.key) || run.out.has(it.task.id)) continue;
    if (run.stop) {
      run.out.set(it.task.id, deferOutcome(run.stop));
      continue;
    }
    const first = run.problems.get(it.key) ?? "missing from the answer";
    run.log.warn(
      { item: it.key, problem: first },
      "item unusable in the batch answer: retrying it alone",
    );
    try {
      const r = await run.llm.chat({
        ...analysisRequest(
          run.context.text,
          [it.prompt],
          run.mode,
          batchFiles([it], run.ctx.config.tech_debt.context.issue_file_tokens).text,
        ),
        purpose: "analysis-retry",
      });
      await addCost(run, r.usage);
      const parsed = parseAnswer(r.message.content);
      const a = parsed.items.get(it.key);
      if (a) run.results.set(it.key, { a, usage: r.usage });
      else {
        const error = `the model's answer for ${it.key} was unusable twice: ${first}; then ${parsed.problems.get(it.key) ?? parsed.error ?? "missing from the answer"}`;
        failed(run, it, error);
        await recordFailedRun(run.ctx, it, run.batchId, error, r.usage);
      }
    } catch (e) {
      run.stop = stopOf(e);
      if (run.stop) run.out.set(it.task.id, deferOutcome(run.stop));
      else failed(run, it, `the retry for ${it.key} failed: ${errText(e)}`);
    }
  }
}

/**
 * Every accepted answer is stored before any is posted: a worker killed while reporting the
 * first leaves the others paid for and saved, and the next attempt posts them without a call.
 */
async function saveAll(run: BatchRun): Promise<void> {
  for (const it of run.batch) {
    const r = run.results.get(it.key);
    if (r) await saveAnalysis(run.ctx, it, r.a, run.batchId);
  }
}

/** Posts each accepted answer; returns how many were posted. */
async function reportAll(run: BatchRun): Promise<number> {
  let ok = 0;
  for (const it of run.batch) {
    const r = run.results.get(it.key);
    if (!r) continue;
    const o = await record(run.ctx, it, r.a, run.batchId, r.usage, run.llm.model);
    run.out.set(it.task.id, o);
    if (o.status === "done") {
      ok++;
      run.report.issues.push({
        key: it.key,
        ...(it.payload.url ? { url: it.payload.url } : {}),
        verdict: r.a.should_fix ? "should fix" : "won't fix",
        complexity: r.a.complexity,
        ...(it.prompt.truncatedFrom !== undefined
          ? { note: `text truncated from ${it.prompt.truncatedFrom} characters` }
          : {}),
      });
    } else {
      run.report.issues.push({
        key: it.key,
        verdict: "failed",
        note: o.status === "failed" ? o.error : "",
      });
    }
  }
  return ok;
}

/** The store batch's final status and the batch's line in the check run. */
async function finish(run: BatchRun, ok: number): Promise<void> {
  const bad = run.batch.filter((it) => run.out.get(it.task.id)?.status === "failed").length;
  const deferred = run.batch.filter((it) => run.out.get(it.task.id)?.status === "retry").length;
  await run.ctx.store.batches.finish(
    run.batchId,
    bad + deferred === 0 ? "done" : ok > 0 ? "partial" : "failed",
    run.stop ? stopNote(run.stop) : null,
  );
  pushBatchReport(run, { ok, failed: bad, deferred });
}

import { projectContext } from "../../context/project-context.js";
import { counterFor } from "../../llm/tokens.js";
import type { ProjectContext } from "../../context/project-context.js";
import { structuredModeOf } from "../../llm/client.js";
import { llmFor } from "../../llm/for-context.js";
import { batchApiWanted } from "../../llm/openai-batch.js";
import type { Llm } from "../../llm/types.js";
import type { Task } from "../../core/domain.js";
import { errText } from "../../util/errors.js";
import type { ProcessorContext, TaskOutcome } from "../../core/worker-contract.js";
import { planBatches } from "./batches.js";
import { collectItems } from "./collect.js";
import { dryRun } from "./dry-run.js";
import { resolveIssueFiles } from "./issue-files.js";
import type { Item } from "./item.js";
import { runBatch } from "./run-batch.js";
import type { RunReport } from "./run-report.js";
import { publishRun, runReport } from "./run-report.js";
import type { Stop } from "./stop.js";
import { deferOutcome, stopNote, stopOf } from "./stop.js";
import { viaBatchApi } from "./submit-batch-api.js";

/**
 * Processes one claimed batch of `tech_debt_analysis` tasks, in named steps: collect the items
 * that need a call → (dry run: estimate and stop) → open the LLM → read the project context →
 * analyse them (OpenAI Batch API submissions, then one call per planned batch: validate, retry
 * the unusable alone, save, report) → note stops → publish the run's check run.
 */
export async function processAnalysis(
  ctx: ProcessorContext,
  tasks: Task[],
): Promise<Map<number, TaskOutcome>> {
  const out = new Map<number, TaskOutcome>();
  if (!ctx.config.tech_debt.enabled) {
    for (const t of tasks)
      out.set(t.id, { status: "skipped", reason: "tech_debt.enabled is false" });
    return out;
  }
  const report = runReport(ctx);
  const { items, collected } = await collectItems(ctx, tasks, out, report);
  if (!items.length) {
    if (collected) await publishRun(ctx, collected);
    return out;
  }
  if (ctx.env.dryRun) {
    await dryRun(ctx, items, out);
    return out;
  }
  const llm = await openLlm(ctx, items, out, report);
  if (!llm) return out;
  const context = await readContext(ctx, items, out);
  if (!context) return out;
  await resolveIssueFiles(context, items, ctx.config.tech_debt.context.issue_file_tokens);
  const stop = await analyse(ctx, llm, context, items, out, report);
  noteOutcomes(ctx, items, stop, out, report);
  await publishRun(ctx, llm.model);
  return out;
}

/** The repository's LLM client; none (no key, budget spent): every item waits, and the run says why. */
async function openLlm(
  ctx: ProcessorContext,
  items: Item[],
  out: Map<number, TaskOutcome>,
  report: RunReport,
): Promise<Llm | null> {
  try {
    return llmFor(ctx);
  } catch (e) {
    const stop = stopOf(e) ?? { kind: "unavailable" as const, message: errText(e) };
    ctx.log.error({ err: e }, `analysis skipped: ${stopNote(stop)}`);
    if (!report.notes.includes(stopNote(stop))) report.notes.push(stopNote(stop));
    for (const it of items) {
      out.set(it.task.id, deferOutcome(stop));
      report.issues.push({ key: it.key, verdict: "deferred", note: stopNote(stop) });
    }
    await publishRun(ctx, "none");
    return null;
  }
}

/** The project context in front of every call; unreadable: every item fails (retried later). */
async function readContext(
  ctx: ProcessorContext,
  items: Item[],
  out: Map<number, TaskOutcome>,
): Promise<ProjectContext | null> {
  try {
    return await projectContext(ctx);
  } catch (e) {
    const error = `could not read the project context: ${errText(e)}`;
    ctx.log.error({ err: e }, error);
    for (const it of items) out.set(it.task.id, { status: "failed", error });
    return null;
  }
}

/**
 * The calls: items for the OpenAI Batch API are submitted there (when the repository asks for
 * it), the others analysed one planned batch at a time until a stop; the rest then wait.
 */
async function analyse(
  ctx: ProcessorContext,
  llm: Llm,
  context: ProjectContext,
  items: Item[],
  out: Map<number, TaskOutcome>,
  report: RunReport,
): Promise<Stop | null> {
  const settings = ctx.env.llm instanceof Error ? undefined : ctx.env.llm;
  const mode = structuredModeOf({
    provider: llm.provider,
    structuredOutput: settings?.structuredOutput,
  });
  let stop: Stop | null = null;
  let sync = items;
  if (batchApiWanted(ctx)) {
    const r = await viaBatchApi(ctx, context, items, mode, out, report);
    sync = r.sync;
    stop = r.stop;
  }
  for (const batch of planBatches(sync, ctx.config, context.tokens, counterFor(ctx))) {
    if (stop) {
      for (const it of batch) out.set(it.task.id, deferOutcome(stop));
      continue;
    }
    stop = await runBatch(ctx, llm, context, batch, mode, out, report);
  }
  return stop;
}

/** The run's report says why work stopped and which items wait. */
function noteOutcomes(
  ctx: ProcessorContext,
  items: Item[],
  stop: Stop | null,
  out: Map<number, TaskOutcome>,
  report: RunReport,
): void {
  if (stop) {
    const note = stopNote(stop);
    ctx.log.warn(note);
    if (!report.notes.includes(note)) report.notes.push(note);
  }
  for (const it of items) {
    const o = out.get(it.task.id);
    if (o?.status === "retry")
      report.issues.push({ key: it.key, verdict: "deferred", note: o.reason });
  }
}

import type { Removed } from "../../context/hidden-text.js";
import {
  addRemoved,
  describeRemoved,
  removedAnything,
  stripHidden,
} from "../../context/hidden-text.js";
import { projectContext } from "../../context/project-context.js";
import type { ProjectContext } from "../../context/project-context.js";
import { repoHead } from "../../context/repo-head.js";
import { httpStatus, isRefusal, rateLimitedUntil } from "../../integrations/github.js";
import { structuredModeOf } from "../../llm/client.js";
import { estimateCost } from "../../llm/budget.js";
import { llmFor } from "../../llm/for-context.js";
import type { BatchApi } from "../../llm/openai-batch.js";
import { batchApiWanted, createBatchApi } from "../../llm/openai-batch.js";
import { priceFor } from "../../llm/pricing.js";
import type { Llm } from "../../llm/types.js";
import { PausedError } from "../../core/paused.js";
import { BudgetExceededError, EmptyAnswerError, LlmUnavailableError } from "../../llm/types.js";
import { addUsage, ZERO_USAGE } from "../../llm/usage.js";
import { publishCheckRun } from "../../report/check-runs.js";
import { upsertComment } from "../../report/comments.js";
import { linkPolicyFor } from "../../report/link-policy.js";
import type { Usage } from "../../store/spend.js";
import type { Task } from "../../store/tasks.js";
import { hashOf } from "../../util/hash.js";
import type { ProcessorContext, TaskOutcome, WorkerEnv } from "../../core/worker-contract.js";
import { planBatches } from "./batches.js";
import type { PromptIssue } from "./prompt.js";
import { analysisRequest, issueTokens } from "./prompt.js";
import type { BatchReport, IssueLine } from "./report.js";
import { githubApproveHint, linearApproveHint, renderAnalysis, renderCheckRun } from "./report.js";
import type { AnalysisItem, AnalysisPayload } from "./schema.js";
import { analysisPayloadSchema, parseAnswer } from "./schema.js";
import { errText } from "../../util/errors.js";

export const CHECK_NAME = "bg-agent/analysis";
/** When LLM work is retried after the LLM was unavailable (no key, 401, unknown model). */
export const UNAVAILABLE_RETRY_MS = 60 * 60_000;
/** When work stopped by the run's cap is retried (the next run has its own cap). */
export const RUN_CAP_RETRY_MS = 60_000;
/** When tasks sent to the OpenAI Batch API come up again (collection wakes them sooner). */
export const BATCH_API_RETRY_MS = 60 * 60_000;
/** The custom_id of a store batch's request in an OpenAI Batch API file. */
export const customIdOf = (storeBatchId: number): string => `bgb-${storeBatchId}`;

export interface Item {
  task: Task;
  payload: AnalysisPayload;
  source: "github" | "linear";
  key: string;
  hash: string;
  number?: number;
  prompt: PromptIssue;
  tokens: number;
  /** Hidden text removed from the title and body before the prompt. */
  removed: Removed;
}

export type Stop =
  | { kind: "budget"; err: BudgetExceededError }
  | { kind: "unavailable"; message: string }
  | { kind: "paused"; err: PausedError };

/** What this run reported so far per repository, so each check run update covers the whole run. */
export interface RunReport {
  batches: BatchReport[];
  issues: IssueLine[];
  notes: string[];
  updatedAt: number;
}
/** In the app the env outlives passes: a report idle this long starts over. */
const REPORT_IDLE_MS = 10 * 60_000;
const runReports = new WeakMap<WorkerEnv, Map<string, RunReport>>();
export function runReport(ctx: ProcessorContext): RunReport {
  let m = runReports.get(ctx.env);
  if (!m) runReports.set(ctx.env, (m = new Map()));
  let r = m.get(ctx.repoName);
  const now = Date.now();
  if (!r || now - r.updatedAt > REPORT_IDLE_MS)
    m.set(ctx.repoName, (r = { batches: [], issues: [], notes: [], updatedAt: now }));
  r.updatedAt = now;
  return r;
}

export function toItem(ctx: ProcessorContext, task: Task): Item | string {
  const p = analysisPayloadSchema.safeParse(task.payload);
  if (!p.success)
    return `invalid task payload: ${p.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`;
  const payload = p.data;
  const linear = /^linear:(.+)$/.exec(task.source);
  const gh = /^issue:(\d+)$/.exec(task.source);
  if (!linear && !gh) return `unknown source ${task.source}: expected issue:<n> or linear:<ID>`;
  const number = payload.number ?? (gh ? Number(gh[1]) : undefined);
  const body = payload.body ?? "";
  const max = ctx.config.tech_debt.max_issue_chars;
  const original = Math.max(payload.bodyLength ?? 0, body.length);
  // Hidden text (HTML comments, invisible characters) never reaches the model: removed before
  // the cut, and said in the posted analysis. The content hash stays the original text's.
  const title = stripHidden(payload.title);
  const visible = stripHidden(body);
  const cut = visible.text.length > max || original > body.length;
  const prompt: PromptIssue = {
    key: payload.key,
    title: title.text.slice(0, 500),
    body: visible.text.length > max ? visible.text.slice(0, max) : visible.text,
    ...(cut ? { truncatedFrom: original } : {}),
  };
  return {
    task,
    payload,
    source: linear ? "linear" : "github",
    key: payload.key,
    hash: task.contentHash ?? hashOf({ title: payload.title, body }),
    ...(number !== undefined ? { number } : {}),
    prompt,
    tokens: issueTokens(prompt),
    removed: addRemoved(title.removed, visible.removed),
  };
}

export const share = (u: Usage, n: number): Usage => ({
  promptTokens: Math.round(u.promptTokens / n),
  cachedTokens: Math.round(u.cachedTokens / n),
  completionTokens: Math.round(u.completionTokens / n),
  costUsd: u.costUsd / n,
});

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
    proposal = ctx.store.proposals.propose({
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
    const open = ctx.store.proposals.latest(repo, it.task.source, "fix");
    if (open?.status === "proposed")
      ctx.store.proposals.decide(
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
export function saveAnalysis(
  ctx: ProcessorContext,
  it: Item,
  a: AnalysisItem,
  batchId: number | null,
): void {
  ctx.store.analyses.save({
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
  ctx.store.analyses.setCommentUrl(it.key, null);
}

/** A failed analysis run, linked to the item itself (a Linear issue's URL from its sweep) for the dashboard. */
function recordFailedRun(
  ctx: ProcessorContext,
  it: Item,
  batchId: number | null,
  error: string,
  usage: Usage,
): void {
  ctx.store.runs.record({
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
  saveAnalysis(ctx, it, a, batchId);
  const log = ctx.log.child({ item: it.key });
  try {
    const url = await publish(ctx, it, a, model);
    ctx.store.analyses.setCommentUrl(it.key, url);
    ctx.store.runs.record({
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
    recordFailedRun(ctx, it, batchId, error, usage);
    return { status: "failed", error, ...(gone || refused ? { permanent: true } : {}) };
  }
}

export function deferOutcome(stop: Stop, now = Date.now()): TaskOutcome {
  if (stop.kind === "budget") {
    const e = stop.err;
    return {
      status: "retry",
      at: e.retryAt ?? now + RUN_CAP_RETRY_MS,
      reason: `budget stop: ${e.message}; waits until ${e.retryAt ? new Date(e.retryAt).toISOString() : "the next run"}`,
    };
  }
  if (stop.kind === "paused")
    return { status: "retry", at: stop.err.retryAt, reason: stop.err.message };
  return {
    status: "retry",
    at: now + UNAVAILABLE_RETRY_MS,
    reason: `LLM unavailable: ${stop.message}`,
  };
}

export const stopOf = (e: unknown): Stop | null =>
  e instanceof BudgetExceededError
    ? { kind: "budget", err: e }
    : e instanceof LlmUnavailableError
      ? { kind: "unavailable", message: e.message }
      : e instanceof PausedError
        ? { kind: "paused", err: e }
        : null;

export const stopNote = (s: Stop): string =>
  s.kind === "budget"
    ? `Budget stop: ${s.err.message}. The remaining issues wait until ${s.err.retryAt ? new Date(s.err.retryAt).toISOString() : "the next run"}; none is marked done.`
    : s.kind === "paused"
      ? `Paused mid-run: ${s.err.state.reason}. The remaining issues wait; none is marked done.`
      : `LLM unavailable: ${s.message}`;

export async function publishRun(ctx: ProcessorContext, model: string): Promise<void> {
  if (ctx.env.dryRun) return;
  const r = runReport(ctx);
  const b = ctx.config.budget;
  const c = renderCheckRun(
    ctx.repoName,
    r.batches,
    r.issues,
    r.notes,
    {
      today: ctx.store.spend.today(ctx.repoName),
      daily: b.daily_usd,
      month: ctx.store.spend.month(ctx.repoName),
      monthly: b.monthly_usd,
    },
    model,
  );
  try {
    const head = await repoHead(ctx);
    await publishCheckRun(ctx.octokit, ctx.repo, {
      name: CHECK_NAME,
      headSha: head.sha,
      conclusion: "neutral",
      ...c,
    });
  } catch (e) {
    ctx.log.error({ err: e }, "could not publish the bg-agent/analysis check run");
  }
}

/** Dry-run: reads only, calls no LLM, writes nothing; says what would be analysed and for how much. */
async function dryRun(
  ctx: ProcessorContext,
  items: Item[],
  out: Map<number, TaskOutcome>,
): Promise<void> {
  let context: ProjectContext | null = null;
  try {
    context = await projectContext(ctx);
  } catch (e) {
    ctx.log.warn({ err: e }, "dry-run: could not read the project context; estimates leave it out");
  }
  const settings = ctx.env.llm;
  const provider = settings instanceof Error ? "openai" : settings.provider;
  const model =
    ctx.config.llm.model ?? (settings instanceof Error ? "gpt-4o-mini" : settings.model);
  const { price } = priceFor(provider, model, ctx.config.llm.pricing, ctx.log);
  const mode = structuredModeOf({
    provider,
    structuredOutput: settings instanceof Error ? undefined : settings.structuredOutput,
  });
  const batches = planBatches(items, ctx.config, context?.tokens ?? 0);
  let total = 0;
  batches.forEach((batch, i) => {
    const est = estimateCost(
      analysisRequest(
        context?.text ?? "",
        batch.map((b) => b.prompt),
        mode,
      ),
      price,
    );
    total += est;
    const line = `dry-run: batch ${i + 1} of ${batches.length} would analyse ${batch.length} issue(s) with ${provider}/${model}, at most ~$${est.toFixed(4)}: ${batch.map((b) => b.key).join(", ")}`;
    ctx.log.info({ batch: i + 1, issues: batch.map((b) => b.key), estimateUsd: est }, line);
    for (const it of batch) {
      out.set(it.task.id, {
        status: "skipped",
        reason: `dry-run: would analyse in batch ${i + 1} of ${batches.length} (at most ~$${est.toFixed(4)} for the batch)`,
      });
    }
  });
  if (settings instanceof Error)
    ctx.log.warn(`dry-run: the LLM is not usable: ${settings.message}`);
  ctx.log.info(
    {
      batches: batches.length,
      issues: items.length,
      estimateUsd: total,
      contextTokens: context?.tokens ?? 0,
    },
    `dry-run: ${items.length} issue(s) in ${batches.length} call(s), estimated at most $${total.toFixed(4)} (context ~${context?.tokens ?? 0} tokens, cached after the first call)`,
  );
}

/** Processes one claimed batch of `tech_debt_analysis` tasks: one LLM call per planned batch. */
export async function processAnalysis(
  ctx: ProcessorContext,
  tasks: Task[],
): Promise<Map<number, TaskOutcome>> {
  const out = new Map<number, TaskOutcome>();
  const cfg = ctx.config.tech_debt;
  if (!cfg.enabled) {
    for (const t of tasks)
      out.set(t.id, { status: "skipped", reason: "tech_debt.enabled is false" });
    return out;
  }
  const report = runReport(ctx);
  const items: Item[] = [];
  /** The model of OpenAI Batch API results reported in this call, if any. */
  let collected: string | null = null;
  for (const t of tasks) {
    const it = toItem(ctx, t);
    if (typeof it === "string") {
      out.set(t.id, { status: "failed", error: it, permanent: true });
      continue;
    }
    const prev = ctx.store.analyses.get(it.key);
    if (
      prev &&
      prev.contentHash === it.hash &&
      prev.repo.toLowerCase() === ctx.repoName.toLowerCase()
    ) {
      if (prev.commentUrl) {
        out.set(t.id, { status: "skipped", reason: "already analysed at this content" });
        continue;
      }
      if (!ctx.env.dryRun) {
        // Paid for already (an OpenAI batch's result, or the report failed last time): post it
        // without a new call.
        const a: AnalysisItem = {
          issue: prev.key,
          should_fix: prev.shouldFix,
          complexity: prev.complexity,
          plan: prev.plan,
          affected_files: prev.affectedFiles,
        };
        const b = prev.batchId !== null ? ctx.store.batches.get(prev.batchId) : undefined;
        const viaBatchApi = !!b?.externalId;
        const o = viaBatchApi
          ? await record(ctx, it, a, b.id, share(b, Math.max(1, b.items)), b.model ?? "unknown")
          : await record(ctx, it, a, prev.batchId, ZERO_USAGE, "stored analysis");
        out.set(t.id, o);
        if (viaBatchApi) {
          collected = b.model ?? collected;
          report.issues.push(
            o.status === "done"
              ? {
                  key: it.key,
                  ...(it.payload.url ? { url: it.payload.url } : {}),
                  verdict: a.should_fix ? "should fix" : "won't fix",
                  complexity: a.complexity,
                  note: `OpenAI batch ${b.externalId}`,
                }
              : { key: it.key, verdict: "failed", note: o.status === "failed" ? o.error : "" },
          );
        }
        continue;
      }
    }
    items.push(it);
  }
  if (!items.length) {
    if (collected) await publishRun(ctx, collected);
    return out;
  }
  if (ctx.env.dryRun) {
    await dryRun(ctx, items, out);
    return out;
  }

  let llm: Llm;
  try {
    llm = llmFor(ctx);
  } catch (e) {
    const stop = stopOf(e) ?? { kind: "unavailable" as const, message: errText(e) };
    ctx.log.error({ err: e }, `analysis skipped: ${stopNote(stop)}`);
    if (!report.notes.includes(stopNote(stop))) report.notes.push(stopNote(stop));
    for (const it of items) {
      out.set(it.task.id, deferOutcome(stop));
      report.issues.push({ key: it.key, verdict: "deferred", note: stopNote(stop) });
    }
    await publishRun(ctx, "none");
    return out;
  }

  let context: ProjectContext;
  try {
    context = await projectContext(ctx);
  } catch (e) {
    const error = `could not read the project context: ${errText(e)}`;
    ctx.log.error({ err: e }, error);
    for (const it of items) out.set(it.task.id, { status: "failed", error });
    return out;
  }

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
  const batches = planBatches(sync, ctx.config, context.tokens);
  for (const batch of batches) {
    if (stop) {
      for (const it of batch) out.set(it.task.id, deferOutcome(stop));
      continue;
    }
    stop = await runBatch(ctx, llm, context, batch, mode, out, report);
  }
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
  await publishRun(ctx, llm.model);
  return out;
}

/**
 * `tech_debt.openai_batch`: items never sent through the OpenAI Batch API are submitted there
 * (one JSONL line per planned batch, custom_id `bgb-<store batch id>`) and wait for a later run;
 * items of a job still running keep waiting; items whose job failed or expired, or whose answer
 * was unusable, go the synchronous way (returned as `sync`).
 */
async function viaBatchApi(
  ctx: ProcessorContext,
  context: ProjectContext,
  items: Item[],
  mode: "json_schema" | "json_object",
  out: Map<number, TaskOutcome>,
  report: RunReport,
): Promise<{ sync: Item[]; stop: Stop | null }> {
  const ext = ctx.store.batches.externalStatus(items.map((it) => it.task.id));
  const sync: Item[] = [];
  const fresh: Item[] = [];
  const now = Date.now();
  for (const it of items) {
    const e = ext.get(it.task.id);
    if (!e) fresh.push(it);
    else if (e.status === "submitted")
      out.set(it.task.id, {
        status: "retry",
        at: now + BATCH_API_RETRY_MS,
        reason: `waiting for OpenAI batch ${ctx.store.batches.get(e.batchId)?.externalId ?? e.batchId}`,
      });
    else sync.push(it);
  }
  if (!fresh.length) return { sync, stop: null };
  let api: BatchApi;
  try {
    api = createBatchApi(ctx);
  } catch (e) {
    ctx.log.warn({ err: e }, "OpenAI Batch API unavailable: analysing synchronously");
    return { sync: [...sync, ...fresh], stop: null };
  }
  let stop: Stop | null = null;
  for (const batch of planBatches(fresh, ctx.config, context.tokens)) {
    if (stop) {
      for (const it of batch) out.set(it.task.id, deferOutcome(stop));
      continue;
    }
    const batchId = ctx.store.batches.start({
      repo: ctx.repoName,
      type: "tech_debt_analysis",
      provider: api.provider,
      model: api.model,
      taskIds: batch.map((b) => b.task.id),
    });
    try {
      const { externalId } = await api.submit([
        {
          customId: customIdOf(batchId),
          req: analysisRequest(
            context.text,
            batch.map((b) => b.prompt),
            mode,
          ),
        },
      ]);
      ctx.store.batches.setExternalId(batchId, externalId);
      ctx.store.batches.finish(batchId, "submitted");
      const at = Date.now() + BATCH_API_RETRY_MS;
      for (const it of batch)
        out.set(it.task.id, {
          status: "retry",
          at,
          reason: `submitted to the OpenAI Batch API as ${externalId} (half price); the result is collected on a later run`,
        });
      const note = `${batch.length} issue(s) submitted to the OpenAI Batch API as ${externalId}: results are posted by a later run (within 24 hours).`;
      report.notes.push(note);
      ctx.log.info({ batch: externalId, issues: batch.map((b) => b.key) }, note);
    } catch (e) {
      stop = stopOf(e);
      if (stop) {
        ctx.store.batches.finish(batchId, "failed", stopNote(stop));
        for (const it of batch) out.set(it.task.id, deferOutcome(stop));
        continue;
      }
      const error = `the OpenAI Batch API refused the batch: ${errText(e)}; analysing synchronously`;
      ctx.log.warn({ err: e }, error);
      ctx.store.batches.finish(batchId, "failed", error);
      sync.push(...batch);
    }
  }
  return { sync, stop };
}

/** One planned batch: one call, then each missing or malformed item once alone. */
async function runBatch(
  ctx: ProcessorContext,
  llm: Llm,
  context: ProjectContext,
  batch: Item[],
  mode: "json_schema" | "json_object",
  out: Map<number, TaskOutcome>,
  report: RunReport,
): Promise<Stop | null> {
  const log = ctx.log.child({ batch: batch.map((b) => b.key) });
  const batchId = ctx.store.batches.start({
    repo: ctx.repoName,
    type: "tech_debt_analysis",
    provider: llm.provider,
    model: llm.model,
    taskIds: batch.map((b) => b.task.id),
  });
  let total: Usage = ZERO_USAGE;
  const results = new Map<string, { a: AnalysisItem; usage: Usage }>();
  const problems = new Map<string, string>();
  let stop: Stop | null = null;
  const failAll = (error: string) => {
    for (const it of batch) {
      out.set(it.task.id, { status: "failed", error });
      report.issues.push({ key: it.key, verdict: "failed", note: error });
    }
  };

  try {
    const r = await llm.chat(
      analysisRequest(
        context.text,
        batch.map((b) => b.prompt),
        mode,
      ),
    );
    total = addUsage(total, r.usage);
    ctx.store.batches.addUsage(batchId, r.usage);
    const parsed = parseAnswer(r.message.content);
    const each = share(r.usage, batch.length);
    for (const it of batch) {
      const a = parsed.items.get(it.key);
      if (a) results.set(it.key, { a, usage: each });
      else
        problems.set(
          it.key,
          parsed.problems.get(it.key) ?? parsed.error ?? "missing from the answer",
        );
    }
  } catch (e) {
    stop = stopOf(e);
    if (stop) {
      for (const it of batch) out.set(it.task.id, deferOutcome(stop));
      ctx.store.batches.finish(batchId, "failed", stopNote(stop));
      report.batches.push({
        no: report.batches.length + 1,
        issues: batch.length,
        usage: total,
        ok: 0,
        failed: 0,
        deferred: batch.length,
      });
      return stop;
    }
    const error = `the LLM call failed: ${errText(e)}`;
    log.error({ err: e }, error);
    // Answered without a choice: billed all the same, so the batch shows what it cost.
    if (e instanceof EmptyAnswerError) {
      total = addUsage(total, e.usage);
      ctx.store.batches.addUsage(batchId, e.usage);
    }
    failAll(error);
    ctx.store.batches.finish(batchId, "failed", error);
    report.batches.push({
      no: report.batches.length + 1,
      issues: batch.length,
      usage: total,
      ok: 0,
      failed: batch.length,
      deferred: 0,
    });
    return null;
  }

  // Missing or malformed: once more, alone. Never more, and never at the cost of the others.
  for (const it of batch) {
    if (results.has(it.key)) continue;
    if (stop) {
      out.set(it.task.id, deferOutcome(stop));
      continue;
    }
    const first = problems.get(it.key) ?? "missing from the answer";
    log.warn(
      { item: it.key, problem: first },
      "item unusable in the batch answer: retrying it alone",
    );
    try {
      const r = await llm.chat({
        ...analysisRequest(context.text, [it.prompt], mode),
        purpose: "analysis-retry",
      });
      total = addUsage(total, r.usage);
      ctx.store.batches.addUsage(batchId, r.usage);
      const parsed = parseAnswer(r.message.content);
      const a = parsed.items.get(it.key);
      if (a) results.set(it.key, { a, usage: r.usage });
      else {
        const error = `the model's answer for ${it.key} was unusable twice: ${first}; then ${parsed.problems.get(it.key) ?? parsed.error ?? "missing from the answer"}`;
        out.set(it.task.id, { status: "failed", error });
        report.issues.push({ key: it.key, verdict: "failed", note: error });
        recordFailedRun(ctx, it, batchId, error, r.usage);
      }
    } catch (e) {
      stop = stopOf(e);
      if (stop) out.set(it.task.id, deferOutcome(stop));
      else {
        const error = `the retry for ${it.key} failed: ${errText(e)}`;
        out.set(it.task.id, { status: "failed", error });
        report.issues.push({ key: it.key, verdict: "failed", note: error });
      }
    }
  }

  // Every accepted answer is stored before any is posted: a worker killed while reporting the
  // first leaves the others paid for and saved, and the next attempt posts them without a call.
  for (const it of batch) {
    const r = results.get(it.key);
    if (r) saveAnalysis(ctx, it, r.a, batchId);
  }
  let ok = 0;
  for (const it of batch) {
    const r = results.get(it.key);
    if (!r) continue;
    const o = await record(ctx, it, r.a, batchId, r.usage, llm.model);
    out.set(it.task.id, o);
    if (o.status === "done") {
      ok++;
      report.issues.push({
        key: it.key,
        ...(it.payload.url ? { url: it.payload.url } : {}),
        verdict: r.a.should_fix ? "should fix" : "won't fix",
        complexity: r.a.complexity,
        ...(it.prompt.truncatedFrom !== undefined
          ? { note: `text truncated from ${it.prompt.truncatedFrom} characters` }
          : {}),
      });
    } else {
      report.issues.push({
        key: it.key,
        verdict: "failed",
        note: o.status === "failed" ? o.error : "",
      });
    }
  }
  const bad = batch.filter((it) => out.get(it.task.id)?.status === "failed").length;
  const deferred = batch.filter((it) => out.get(it.task.id)?.status === "retry").length;
  ctx.store.batches.finish(
    batchId,
    bad + deferred === 0 ? "done" : ok > 0 ? "partial" : "failed",
    stop ? stopNote(stop) : null,
  );
  report.batches.push({
    no: report.batches.length + 1,
    issues: batch.length,
    usage: total,
    ok,
    failed: bad,
    deferred,
  });
  return stop;
}

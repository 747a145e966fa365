import { z } from "zod";
import type { TaskConfig } from "../../config/schema.js";
import { llmFor } from "../../llm/for-context.js";
import { BudgetExceededError, LlmUnavailableError } from "../../llm/types.js";
import { dispatchDue, specOf } from "../../schedule/due.js";
import { recordFailure, recordSuccess } from "../../schedule/lifecycle.js";
import { syncSchedules } from "../../schedule/sync.js";
import {
  afterContext,
  enqueueFollowUps,
  eventContext,
  eventSummarySchema,
} from "../../schedule/event-trigger.js";
import { describeTrigger, triggerOf } from "../../schedule/triggers.js";
import type { Schedule } from "../../store/schedules.js";
import type { Usage } from "../../core/domain.js";
import type { Task } from "../../core/domain.js";
import { formatDuration, parseDuration } from "../../util/duration.js";
import { PausedError } from "../../core/paused.js";
import type { Processor, ProcessorContext, TaskOutcome } from "../../core/worker-contract.js";
import type { Report, ReportOptions } from "./report.js";
import { postReport, resultHash } from "./report.js";
import { DEFAULT_MAX_TURNS, TaskTimeoutError, emptyUsage, runPromptLoop } from "./run.js";
import { errText } from "../../util/errors.js";

export const payloadSchema = z.object({
  name: z.string().min(1),
  manual: z.boolean().optional(),
  requestedBy: z.string().optional(),
  /** `on:` tasks: the events that started this run (the newest few), and how many coalesced. */
  events: z.array(eventSummarySchema).optional(),
  eventCount: z.number().int().optional(),
  /** `after:` tasks: the task whose outcome started this run. */
  after: z.object({ task: z.string(), outcome: z.enum(["success", "failure"]) }).optional(),
});

/** When an unavailable LLM (no key, unknown provider) is tried again. */
const LLM_UNAVAILABLE_RETRY_MS = 60 * 60_000;

export interface PromptTaskOptions {
  maxTurns?: number;
  /** How reports outside GitHub are sent (the environment, retry waits): tests inject them. */
  report?: ReportOptions;
}

/**
 * Prompt tasks: `tasks:` from `.github/bg-agent.yml` (and approved proposals) run on their
 * trigger through an LLM tool-calling loop with read-only tools, and report where they say.
 */
export function createPromptTaskProcessor(opts: PromptTaskOptions = {}): Processor {
  return {
    type: "prompt_task",
    usesLlm: true,
    batchSize: () => 1,

    async prepare(ctx) {
      // Never sync from defaults standing in for a broken file: that would delete every task.
      if (!ctx.configResult.ok) return;
      const now = Date.now();
      const sync = await syncSchedules(ctx.store, ctx.repoName, ctx.config.tasks, now);
      const changed = Object.entries(sync).filter(([, v]) => v.length);
      if (changed.length)
        ctx.log.info({ sync: Object.fromEntries(changed) }, "tasks synced from config");
      const due = await dispatchDue(ctx.store, ctx.repoName, now, { dryRun: ctx.env.dryRun });
      if (due.enqueued.length || due.broken.length) {
        ctx.log.info(
          { enqueued: due.enqueued.map((e) => e.name), broken: due.broken },
          "due tasks queued",
        );
      }
      for (const w of due.waiting) ctx.log.debug({ task: w.name, why: w.why }, "idle task waits");
    },

    // Repositories with due schedules, and those whose config changed (or was never read), so
    // newly declared tasks are synced without waiting for a sweep.
    dueRepos: async (store, now) => [
      ...(await store.schedules.dueRepos(now)),
      ...(await store.repos.staleConfigRepos()),
    ],

    async process(ctx, tasks) {
      const out = new Map<number, TaskOutcome>();
      for (const t of tasks) out.set(t.id, await processOne(ctx, t, opts));
      return out;
    },
  };
}

async function processOne(
  ctx: ProcessorContext,
  task: Task,
  opts: PromptTaskOptions,
): Promise<TaskOutcome> {
  const payload = payloadSchema.safeParse(task.payload);
  if (!payload.success) {
    return {
      status: "failed",
      error: "the task payload is not {name, manual?, requestedBy?}",
      permanent: true,
    };
  }
  const { name } = payload.data;
  const manual = payload.data.manual === true;
  const log = ctx.log.child({ task: name, taskId: task.id });
  const s = await ctx.store.schedules.get(ctx.repoName, name);
  if (!s) return { status: "skipped", reason: `no task named ${name} is declared` };
  if (s.status === "proposed")
    return { status: "skipped", reason: `${name} is proposed and waits for /bg approve` };
  if (!manual && s.status !== "active") {
    return {
      status: "skipped",
      reason: `${name} is ${s.status}${s.statusReason ? `: ${s.statusReason}` : ""}`,
    };
  }
  const spec = specOf(s);
  if (!spec)
    return {
      status: "failed",
      error: `${name}'s stored definition no longer validates`,
      permanent: true,
    };

  const dry = ctx.env.dryRun;
  const startedAt = Date.now();
  const usage = emptyUsage();
  const runId = dry
    ? null
    : await ctx.store.runs.record({
        repo: ctx.repoName,
        kind: "prompt_task",
        ref: `task:${name}`,
        taskId: task.id,
        status: "running",
        startedAt,
        finishedAt: null,
      });
  const timeoutMs = parseDuration(spec.timeout) ?? 5 * 60_000;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new TaskTimeoutError(timeoutMs)), timeoutMs);
  timer.unref?.();
  let model: string | undefined;
  try {
    const llm = llmFor(ctx);
    model = llm.model;
    const { events, eventCount, after: afterRun } = payload.data;
    const context = events?.length
      ? eventContext(events, eventCount ?? events.length)
      : afterRun
        ? afterContext(afterRun)
        : undefined;
    const result = await runPromptLoop(
      llm,
      {
        name,
        prompt: spec.prompt,
        tools: spec.tools,
        repoName: ctx.repoName,
        ...(context ? { context } : {}),
      },
      { octokit: ctx.octokit, repo: ctx.repo, signal: controller.signal },
      usage,
      {
        maxTurns: opts.maxTurns ?? spec.max_turns ?? DEFAULT_MAX_TURNS,
        signal: controller.signal,
        ...(ctx.beforeLlm ? { checkpoint: ctx.beforeLlm } : {}),
      },
    );
    clearTimeout(timer);
    const hash = resultHash(result.text);
    const changed = hash !== s.lastResultHash;
    // A person who asked (/bg run) gets an answer; otherwise notify decides.
    const post = manual || spec.notify === "always" || (spec.notify === "on_change" && changed);
    const now = Date.now();
    const meta = runMeta(s, spec, now, manual ? payload.data.requestedBy : undefined);
    const posted = post
      ? await postReport(
          ctx,
          spec,
          {
            kind: "result",
            name,
            meta,
            text: result.text,
            usage,
            ...(model ? { model } : {}),
            state: {
              task: name,
              at: now,
              resultHash: hash,
              runCount: s.runCount + (manual ? 0 : 1),
            },
          },
          { ...opts.report, runId },
        )
      : null;
    if (dry) {
      log.info(
        { changed, post, turns: result.turns, tools: result.toolCalls },
        "dry-run: task ran, nothing recorded",
      );
      return { status: "done", result: { changed, posted: false } };
    }
    const after = await recordSuccess(ctx.store, s, spec, { resultHash: hash, manual }, now);
    const followUps = await enqueueFollowUps(
      ctx.store,
      ctx.repoName,
      ctx.config.tasks,
      name,
      "success",
      now,
    );
    await ctx.store.runs.finish(
      runId!,
      changed ? "changed" : "unchanged",
      { summary: summaryOf(result.text), usage, url: posted?.url ?? null },
      now,
    );
    log.info(
      {
        changed,
        posted: posted?.where ?? null,
        status: after.status,
        turns: result.turns,
        ...(followUps.length ? { followUps } : {}),
      },
      "task ran",
    );
    return {
      status: "done",
      result: {
        runId,
        changed,
        posted: posted?.url ?? null,
        turns: result.turns,
        toolCalls: result.toolCalls.length,
      },
    };
  } catch (e) {
    clearTimeout(timer);
    return await onError(ctx, {
      opts,
      e,
      s,
      spec,
      runId,
      usage,
      manual,
      signal: controller.signal,
      log,
      model,
    });
  }
}

async function onError(
  ctx: ProcessorContext,
  a: {
    opts: PromptTaskOptions;
    e: unknown;
    s: Schedule;
    spec: TaskConfig;
    runId: number | null;
    usage: Usage;
    manual: boolean;
    signal: AbortSignal;
    log: ProcessorContext["log"];
    model: string | undefined;
  },
): Promise<TaskOutcome> {
  const { s, spec, runId, usage, log } = a;
  const now = Date.now();
  const dry = ctx.env.dryRun;
  // People became active (or a manual pause arrived) while it ran: it stopped after its current
  // tool call. Preempted, not failed: no failure counted, it runs again when the repository is quiet.
  if (a.e instanceof PausedError) {
    if (runId !== null)
      await ctx.store.runs.finish(runId, "preempted", { error: a.e.state.reason, usage }, now);
    // The schedule is due again then too: a runner's queue ends with its run, its schedules do not.
    if (!a.manual && !dry && (s.nextRunAt === null || s.nextRunAt > a.e.retryAt))
      await ctx.store.schedules.update(s.id, { nextRunAt: a.e.retryAt }, now);
    log.info(
      { retryAt: new Date(a.e.retryAt).toISOString(), why: a.e.state.reason },
      "task preempted",
    );
    return { status: "retry", at: a.e.retryAt, reason: `preempted: ${a.e.state.reason}` };
  }
  // Out of budget (or no LLM configured): not the task's fault, so no failure is counted.
  if (a.e instanceof BudgetExceededError || a.e instanceof LlmUnavailableError) {
    const at =
      a.e instanceof BudgetExceededError
        ? (a.e.retryAt ?? now + LLM_UNAVAILABLE_RETRY_MS)
        : now + LLM_UNAVAILABLE_RETRY_MS;
    if (runId !== null)
      await ctx.store.runs.finish(runId, "skipped", { error: a.e.message, usage }, now);
    log.warn({ retryAt: new Date(at).toISOString(), why: a.e.message }, "task waits");
    return { status: "retry", at, reason: a.e.message };
  }
  const error = a.signal.aborted
    ? a.signal.reason instanceof Error
      ? a.signal.reason.message
      : "the task timed out"
    : errText(a.e) || String(a.e);
  if (runId !== null) await ctx.store.runs.finish(runId, "failed", { error, usage }, now);
  log.warn({ error }, "task run failed");
  if (!dry) {
    const followUps = await enqueueFollowUps(
      ctx.store,
      ctx.repoName,
      ctx.config.tasks,
      s.name,
      "failure",
      now,
    );
    if (followUps.length) log.info({ followUps }, "after: failure tasks queued");
  }
  const report = (kind: Report["kind"]): Promise<void> =>
    postReport(
      ctx,
      spec,
      {
        kind,
        name: s.name,
        meta: runMeta(s, spec, now),
        text: error,
        usage,
        ...(a.model ? { model: a.model } : {}),
        state: { task: s.name, at: now, failed: true },
      },
      { ...a.opts.report, runId },
    ).then(
      () => undefined,
      (pe: unknown) => log.error({ err: pe }, "could not post the failure report"),
    );
  if (a.manual) {
    // Whoever asked learns why; the schedule's failure count is for scheduled runs.
    if (spec.notify !== "never") await report("failure");
    return { status: "failed", error, permanent: true };
  }
  if (dry) return { status: "failed", error, permanent: true };
  const decision = await recordFailure(ctx.store, s, spec, error, now);
  if (decision.action === "retry") {
    if (spec.notify === "on_failure") await report("failure");
    return {
      status: "retry",
      at: decision.at,
      reason: `failed once, retried at ${new Date(decision.at).toISOString()}: ${error}`,
    };
  }
  // Stopped after two failures in a row: the report target is always told why.
  await report("paused");
  return {
    status: "failed",
    error: `${s.name} is ${decision.status}: ${decision.reason}`,
    permanent: true,
  };
}

function runMeta(s: Schedule, spec: TaskConfig, now: number, requestedBy?: string): string {
  const when = new Date(now).toISOString().replace(/\.\d+Z$/, "Z");
  const by = requestedBy
    ? `run by ${requestedBy.replace(/[^\w.[\]-]/g, "")} (/bg run)`
    : describeTrigger(triggerOf(spec));
  const next =
    s.nextRunAt && s.nextRunAt > now ? ` · next in ${formatDuration(s.nextRunAt - now)}` : "";
  return `${by} · ${when}${next}`;
}

const summaryOf = (text: string): string => (text.length > 500 ? `${text.slice(0, 500)}…` : text);

import type { LoadedConfig } from "../config/loader.js";
import type { RepoConfig } from "../config/schema.js";
import { createLlm as defaultCreateLlm } from "../llm/client.js";
import type { ChatRequest, Llm } from "../llm/types.js";
import type { BudgetExceededError } from "../llm/types.js";
import type { Store } from "../store/index.js";
import type { Usage } from "../core/domain.js";
import { dayKey } from "../store/spend.js";
import type { Task, TaskType } from "../core/domain.js";
import { processWithDeadline } from "./deadline.js";
import type {
  Mode,
  PassSummary,
  Processor,
  ProcessorContext,
  TaskOutcome,
  WorkerEnv,
} from "../core/worker-contract.js";
import { errText } from "../util/errors.js";

/** What a run in a CI runner (the Action or the CLI) did, for its job summary, outputs and dashboard. */
export interface RunSummary {
  repo: string;
  mode: Mode;
  via: "standalone" | "connected";
  dryRun: boolean;
  startedAt: number;
  finishedAt: number;
  config: { source: LoadedConfig["source"]; path: string; valid: boolean; problems: string[] };
  analysed: number;
  merged: number;
  /** Every task the run handled, with its outcome. */
  items: {
    taskId: number;
    type: TaskType;
    item: string;
    outcome: TaskOutcome["status"];
    detail?: string;
  }[];
  /** Work left for later, and why: a task skipped or deferred, a repository paused, LLM work held back. */
  skipped: { type?: TaskType; item?: string; reason: string }[];
  failed: { type: TaskType; item: string; error: string }[];
  tokens: { prompt: number; cached: number; completion: number; total: number };
  costUsd: number;
  budget: {
    dailyUsd: number;
    monthlyUsd: number;
    spentTodayUsd: number;
    spentMonthUsd: number;
    stopped: string | null;
  };
  /** Things the summary says so a person understands the run (defaults in use, no LLM key...). */
  notes: string[];
  /** Problems with the run itself, beyond single tasks (shown as error annotations). */
  errors: string[];
  dashboard: { number: number; url: string } | null;
  /** The latest human activity the run saw on GitHub (who, what, when), if any. */
  activity?: { login: string; what: string; at: number } | null;
}

export function emptySummary(o: {
  repo: string;
  mode: Mode;
  via: RunSummary["via"];
  dryRun: boolean;
  startedAt: number;
  config: LoadedConfig;
  budget: RepoConfig["budget"];
}): RunSummary {
  return {
    repo: o.repo,
    mode: o.mode,
    via: o.via,
    dryRun: o.dryRun,
    startedAt: o.startedAt,
    finishedAt: o.startedAt,
    config: {
      source: o.config.source,
      path: o.config.path,
      valid: o.config.result.ok,
      problems: o.config.result.problems.map((p) => `${p.path}: ${p.message}`),
    },
    analysed: 0,
    merged: 0,
    items: [],
    skipped: [],
    failed: [],
    tokens: { prompt: 0, cached: 0, completion: 0, total: 0 },
    costUsd: 0,
    budget: {
      dailyUsd: o.budget.daily_usd,
      monthlyUsd: o.budget.monthly_usd,
      spentTodayUsd: 0,
      spentMonthUsd: 0,
      stopped: null,
    },
    notes: [],
    errors: [],
    dashboard: null,
  };
}

/** Notes about the config for the summary: defaults in use, or the file's problems. */
export function configNotes(c: LoadedConfig): string[] {
  if (!c.result.ok) {
    return [
      `${c.path} is invalid, so bg-agent only answers commands until it is fixed: ${c.result.problems.map((p) => `${p.path}: ${p.message}`).join("; ")}`,
    ];
  }
  const notes: string[] = [];
  if (c.source === "defaults")
    notes.push(`No ${c.path} in the repository: bg-agent runs with its default configuration.`);
  for (const p of c.result.problems)
    notes.push(`${c.path} ${p.path}: ${p.message} (that task is ignored)`);
  return notes;
}

/** Why LLM work must not start: the day's or the month's budget is already spent. */
export function budgetStop(
  budget: RepoConfig["budget"],
  spentToday: number,
  spentMonth: number,
  now: number,
): string | null {
  if (spentToday >= budget.daily_usd) {
    const next = new Date(now);
    next.setUTCHours(24, 0, 0, 0);
    return `The daily budget is spent ($${spentToday.toFixed(4)} of $${budget.daily_usd.toFixed(2)}): no LLM call until ${next.toISOString().slice(0, 16).replace("T", " ")} UTC.`;
  }
  if (spentMonth >= budget.monthly_usd) {
    const d = new Date(now);
    const next = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1));
    return `The monthly budget is spent ($${spentMonth.toFixed(4)} of $${budget.monthly_usd.toFixed(2)}): no LLM call until ${next.toISOString().slice(0, 10)}.`;
  }
  return null;
}

/**
 * Wraps the LLM factory so the run knows its own token use and cost (for the summary, and to
 * attribute spend per batch in connected mode). With `stop` set, every call is refused before
 * anything is sent.
 */
export function meteredLlm(
  base: ((ctx: ProcessorContext) => Llm) | undefined,
  stop: () => BudgetExceededError | null,
): { createLlm: (ctx: ProcessorContext) => Llm; totals: Usage } {
  const totals: Usage = { promptTokens: 0, cachedTokens: 0, completionTokens: 0, costUsd: 0 };
  const createLlm = (ctx: ProcessorContext): Llm => {
    const inner = (base ?? defaultCreateLlm)(ctx);
    return {
      provider: inner.provider,
      model: inner.model,
      async chat(req: ChatRequest) {
        const refused = stop();
        if (refused) throw refused;
        const res = await inner.chat(req);
        totals.promptTokens += res.usage.promptTokens;
        totals.cachedTokens += res.usage.cachedTokens;
        totals.completionTokens += res.usage.completionTokens;
        totals.costUsd += res.usage.costUsd;
        return res;
      },
    };
  };
  return { createLlm, totals };
}

export interface CapturedOutcome {
  task: Task;
  outcome: TaskOutcome;
}

export interface BatchHooks {
  /** Before a batch is processed (connected mode starts heartbeats here). */
  before?(p: Processor, tasks: Task[]): Promise<void> | void;
  /** After: the batch's outcomes (connected mode completes the tasks with the app here). */
  after?(p: Processor, tasks: Task[], outcomes: Map<number, TaskOutcome>): Promise<void> | void;
}

/**
 * Wraps processors so the run sees every outcome (runPass records them in the store, but a
 * dry run releases its tasks), optionally without their sweep/prepare steps (connected mode:
 * the app is the one that finds work).
 */
export function captureOutcomes(
  processors: readonly Processor[],
  o: { sweep: boolean; hooks?: BatchHooks },
): { processors: Processor[]; outcomes: Map<number, CapturedOutcome> } {
  const outcomes = new Map<number, CapturedOutcome>();
  const wrapped = processors.map((p): Processor => {
    const w: Processor = {
      type: p.type,
      usesLlm: p.usesLlm,
      batchSize: (config) => p.batchSize(config),
      process: async (ctx, tasks) => {
        // A dry run releases its tasks, so the pass may hand the same ones back: do not redo them.
        if (tasks.every((t) => outcomes.has(t.id))) {
          return new Map(
            tasks.map((t) => [
              t.id,
              { status: "retry", at: t.nextRunAt, reason: "already handled in this run" },
            ]),
          );
        }
        await o.hooks?.before?.(p, tasks);
        let result: Map<number, TaskOutcome>;
        try {
          // The same outer deadline as the pass's, so this run (and the app) sees its outcome.
          result = await processWithDeadline(p, ctx, tasks);
        } catch (e) {
          result = new Map(tasks.map((t) => [t.id, { status: "failed", error: errText(e) }]));
        }
        for (const t of tasks) {
          outcomes.set(t.id, {
            task: t,
            outcome: result.get(t.id) ?? {
              status: "failed",
              error: "the processor returned no outcome",
            },
          });
        }
        await o.hooks?.after?.(p, tasks, result);
        return result;
      },
    };
    if (o.sweep) {
      if (p.prepare) w.prepare = (ctx) => p.prepare!(ctx);
      if (p.sweep) w.sweep = (ctx) => p.sweep!(ctx);
      if (p.dueRepos) w.dueRepos = (store, now) => p.dueRepos!(store, now);
    }
    return w;
  });
  return { processors: wrapped, outcomes };
}

/** Fills the summary's counts from the pass and the captured outcomes. */
export async function summarizePass(
  summary: RunSummary,
  pass: PassSummary,
  outcomes: Map<number, CapturedOutcome>,
  store: Store,
): Promise<void> {
  for (const r of pass.repos) {
    if (r.skipped) summary.skipped.push({ reason: r.skipped });
    const seen = new Set<number>();
    for (const p of r.processed) {
      if (seen.has(p.taskId)) continue;
      seen.add(p.taskId);
      const o = outcomes.get(p.taskId)?.outcome;
      const item = p.source;
      summary.items.push({
        taskId: p.taskId,
        type: p.type,
        item,
        outcome: p.outcome,
        ...(p.detail ? { detail: p.detail } : {}),
      });
      if (p.outcome === "done" && p.type === "tech_debt_analysis") summary.analysed++;
      if (p.outcome === "skipped" || p.outcome === "retry")
        summary.skipped.push({ type: p.type, item, reason: p.detail ?? p.outcome });
      if (p.outcome === "failed")
        summary.failed.push({
          type: p.type,
          item,
          error: o?.status === "failed" ? o.error : (p.detail ?? "failed"),
        });
      if (p.outcome === "done" && p.type === "automerge" && mergedResult(o)) summary.merged++;
    }
  }
  // The automerge processor records a `merged` run for each merge; count those it did not report in a result.
  const mergedRuns = (await store.runs.list({ kind: "automerge", limit: 500 })).filter(
    (r) => r.status === "merged" && r.startedAt >= summary.startedAt,
  ).length;
  summary.merged = Math.max(summary.merged, mergedRuns);
}

function mergedResult(o: TaskOutcome | undefined): boolean {
  if (!o || o.status !== "done" || !o.result || typeof o.result !== "object") return false;
  const r = o.result as Record<string, unknown>;
  return r.merged === true || r.status === "merged" || r.action === "merged";
}

export function addUsage(summary: RunSummary, u: Usage): void {
  summary.tokens = {
    prompt: u.promptTokens,
    cached: u.cachedTokens,
    completion: u.completionTokens,
    total: u.promptTokens + u.completionTokens,
  };
  summary.costUsd = Math.round(u.costUsd * 1e6) / 1e6;
}

/** This run's spend per UTC day, as recorded in the store (the LLM client records each call). */
export async function spendDelta(
  store: Store,
  repo: string,
  before: Record<string, number>,
  now: number,
): Promise<Record<string, number>> {
  const from = `${dayKey(now).slice(0, 7)}-01`;
  const out: Record<string, number> = {};
  const earliest = Object.keys(before).sort()[0];
  for (const d of await store.spend.daily(earliest && earliest < from ? earliest : from, repo)) {
    const delta = d.costUsd - (before[d.day] ?? 0);
    if (delta > 1e-9) out[d.day] = delta;
  }
  return out;
}

export type { WorkerEnv };

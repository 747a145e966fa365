import type { RepoConfig } from "../config/schema.js";
import type { GitHubClient, RepoRef } from "../integrations/github.js";
import type { Logger } from "../log.js";
import { upsertComment } from "../report/comments.js";
import { findDashboardIssue } from "../report/dashboard-issue.js";
import type { Store } from "../store/index.js";
import { dayKey, monthKey } from "../store/spend.js";
import type { ProcessorContext, WorkerEnv } from "../core/worker-contract.js";
import type { Price } from "./pricing.js";
import type { ChatRequest } from "./types.js";
import { BudgetExceededError } from "./types.js";

/** Characters per token for estimates (English prose and code average about 4). */
export const CHARS_PER_TOKEN = 4;
/** max_tokens when a request does not say: the estimate must have an upper bound. */
export const DEFAULT_MAX_OUTPUT = 4_096;

export const promptChars = (req: Pick<ChatRequest, "messages" | "tools" | "format">): number => {
  let n = 0;
  for (const m of req.messages) {
    const c = (m as { content?: unknown }).content;
    n += typeof c === "string" ? c.length : JSON.stringify(c ?? "").length;
  }
  if (req.tools) n += JSON.stringify(req.tools).length;
  if (req.format?.type === "json_schema") n += JSON.stringify(req.format.schema).length;
  return n;
};

export const estimateTokens = (chars: number): number => Math.ceil(chars / CHARS_PER_TOKEN);

/**
 * An upper-bound estimate of a call's cost before it is sent: the whole prompt as uncached input
 * (chars/4 tokens) plus the most output it may produce.
 */
export function estimateCost(req: ChatRequest, price: Price, factor = 1): number {
  const input = estimateTokens(promptChars(req));
  const output = req.maxOutputTokens ?? DEFAULT_MAX_OUTPUT;
  return ((input * price.input + output * price.output) / 1_000_000) * factor;
}

const nextDay = (now: number): number => {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
};
const nextMonth = (now: number): number => {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
};

/** What this run (this WorkerEnv) has spent, across repositories and clients. */
const runSpend = new WeakMap<WorkerEnv, { usd: number }>();
export const runSpent = (env: WorkerEnv): number => runSpend.get(env)?.usd ?? 0;
export function addRunSpend(env: WorkerEnv, usd: number): void {
  const s = runSpend.get(env) ?? { usd: 0 };
  s.usd += usd;
  runSpend.set(env, s);
}

export interface BudgetInput {
  store: Store;
  repo: string;
  config: RepoConfig;
  env: WorkerEnv;
  estimateUsd: number;
  now?: number;
}

/**
 * Throws BudgetExceededError when spending `estimateUsd` more would go past today's or this
 * month's budget of the repository, or past the run's cap. Nothing is sent in that case.
 */
export function checkBudget(b: BudgetInput): void {
  const now = b.now ?? Date.now();
  const { daily_usd, monthly_usd } = b.config.budget;
  const today = b.store.spend.today(b.repo, now);
  if (today + b.estimateUsd > daily_usd)
    throw new BudgetExceededError("day", today, daily_usd, nextDay(now));
  const month = b.store.spend.month(b.repo, now);
  if (month + b.estimateUsd > monthly_usd) {
    throw new BudgetExceededError("month", month, monthly_usd, nextMonth(now));
  }
  const cap = b.env.runCapUsd;
  if (cap !== undefined) {
    const spent = runSpent(b.env);
    if (spent + b.estimateUsd > cap) throw new BudgetExceededError("run", spent, cap, null);
  }
}

export interface AlertTarget {
  octokit: GitHubClient;
  ref: RepoRef;
  log: Logger;
}

/** The alert levels a period's spend has reached: `alert_at` (as a percentage) and 100. */
export function levelsReached(spent: number, limit: number, alertAt: number): number[] {
  if (limit <= 0) return [];
  const out: number[] = [];
  if (spent >= limit * alertAt) out.push(Math.round(alertAt * 100));
  if (spent >= limit) out.push(100);
  return out;
}

/**
 * Raises each budget alert once per period: a comment (marker `budget-alert:<period>`, updated
 * in place) on the dashboard issue. `stopped` says a call was refused. Never throws: an alert
 * that cannot be posted is logged.
 */
export async function raiseBudgetAlerts(
  b: { store: Store; repo: string; config: RepoConfig; dryRun: boolean; now?: number },
  target: AlertTarget,
  stopped?: BudgetExceededError,
): Promise<void> {
  if (b.dryRun) return;
  const now = b.now ?? Date.now();
  const { daily_usd, monthly_usd, alert_at } = b.config.budget;
  const periods = [
    {
      period: `day:${dayKey(now)}`,
      spent: b.store.spend.today(b.repo, now),
      limit: daily_usd,
      name: "daily",
    },
    {
      period: `month:${monthKey(now)}`,
      spent: b.store.spend.month(b.repo, now),
      limit: monthly_usd,
      name: "monthly",
    },
  ];
  for (const p of periods) {
    const levels = levelsReached(p.spent, p.limit, alert_at);
    // A refused call of this period raises the 100% level even below the limit (estimate + spend > limit).
    if (stopped?.period === (p.name === "daily" ? "day" : "month") && !levels.includes(100))
      levels.push(100);
    const fresh = levels.filter((l) => b.store.spend.markAlert(b.repo, p.period, l, now));
    if (!fresh.length) continue;
    const top = Math.max(...levels);
    const body =
      top >= 100
        ? `**bg-agent: the ${p.name} LLM budget of ${b.repo} is spent** ($${p.spent.toFixed(4)} of $${p.limit.toFixed(2)}).\n\n` +
          `LLM work stops until the period rolls over (midnight UTC${p.name === "monthly" ? " on the 1st" : ""}); queued analyses wait and are not lost. ` +
          `Raise \`budget.${p.name === "daily" ? "daily_usd" : "monthly_usd"}\` in .github/bg-agent.yml to continue sooner.`
        : `**bg-agent: ${top}% of the ${p.name} LLM budget of ${b.repo} is spent** ($${p.spent.toFixed(4)} of $${p.limit.toFixed(2)}).\n\n` +
          `At 100% LLM work stops until the period rolls over.`;
    try {
      const dash = await findDashboardIssue(target.octokit, target.ref, {
        title: b.config.dashboard.issue_title,
        create: true,
      });
      if (dash)
        await upsertComment(
          target.octokit,
          target.ref,
          dash.number,
          "budget-alert",
          p.period,
          body,
        );
      target.log.warn(
        { period: p.period, level: top, spent: p.spent, limit: p.limit },
        "budget alert raised",
      );
    } catch (e) {
      target.log.error({ err: e, period: p.period }, "could not post the budget alert");
    }
  }
}

/**
 * A repository's budget as its LLM clients use it: `guard` checks a call's (or a submission's)
 * estimate before anything is sent — logging and alerting on a stop, then rethrowing — and
 * `alert` raises the alerts the spend recorded since has reached.
 */
export function repoBudget(
  ctx: ProcessorContext,
  log: Logger,
): { guard(estimateUsd: number, what: string): Promise<void>; alert(): Promise<void> } {
  const target: AlertTarget = { octokit: ctx.octokit, ref: ctx.repo, log };
  const b = { store: ctx.store, repo: ctx.repoName, config: ctx.config, dryRun: ctx.env.dryRun };
  return {
    async guard(estimateUsd, what) {
      try {
        checkBudget({ ...b, env: ctx.env, estimateUsd });
      } catch (e) {
        if (e instanceof BudgetExceededError) {
          log.warn(
            { period: e.period, spent: e.spentUsd, limit: e.limitUsd, estimateUsd },
            `budget stop: ${what} not sent`,
          );
          if (e.period !== "run") await raiseBudgetAlerts(b, target, e);
        }
        throw e;
      }
    },
    alert: () => raiseBudgetAlerts(b, target),
  };
}

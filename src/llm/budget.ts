import type { RepoConfig } from "../config/schema.js";
import type { Logger } from "../log.js";
import type { BudgetAlert } from "../report/budget-alert.js";
import type { Store } from "../store/index.js";
import { dayKey, monthKey } from "../store/spend.js";
import type { ProcessorContext, WorkerEnv } from "../core/worker-contract.js";
import type { Price } from "./pricing.js";
import type { TokenCounter } from "./tokens.js";
import { DEFAULT_COUNTER } from "./tokens.js";
import type { ChatRequest } from "./types.js";
import { BudgetExceededError } from "./types.js";

/** max_tokens when a request does not say: the estimate must have an upper bound. */
export const DEFAULT_MAX_OUTPUT = 4_096;

/**
 * An upper-bound estimate of a call's cost before it is sent: the whole prompt as uncached input
 * (counted by the model's tokenizer, src/llm/tokens.ts) plus the most output it may produce.
 */
export function estimateCost(
  req: ChatRequest,
  price: Price,
  factor = 1,
  counter: TokenCounter = DEFAULT_COUNTER,
): number {
  const input = counter.prompt(req);
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

/** What this run (env.run) has spent, across repositories and clients. */
export const runSpent = (env: Pick<WorkerEnv, "run">): number => env.run.spentUsd;
export function addRunSpend(env: Pick<WorkerEnv, "run">, usd: number): void {
  env.run.spentUsd += usd;
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
export async function checkBudget(b: BudgetInput): Promise<void> {
  const now = b.now ?? Date.now();
  const { daily_usd, monthly_usd } = b.config.budget;
  const today = await b.store.spend.today(b.repo, now);
  if (today + b.estimateUsd > daily_usd)
    throw new BudgetExceededError("day", today, daily_usd, nextDay(now));
  const month = await b.store.spend.month(b.repo, now);
  if (month + b.estimateUsd > monthly_usd) {
    throw new BudgetExceededError("month", month, monthly_usd, nextMonth(now));
  }
  const cap = b.env.runCapUsd;
  if (cap !== undefined) {
    const spent = runSpent(b.env);
    if (spent + b.estimateUsd > cap) throw new BudgetExceededError("run", spent, cap, null);
  }
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
 * Decides which budget alerts are due: each level once per period (recorded in the store as
 * raised). `stopped` says a call was refused. Posts nothing: src/report/budget-alert.ts does.
 */
export async function budgetAlerts(
  b: { store: Store; repo: string; config: RepoConfig; dryRun: boolean; now?: number },
  stopped?: BudgetExceededError,
): Promise<BudgetAlert[]> {
  if (b.dryRun) return [];
  const now = b.now ?? Date.now();
  const { daily_usd, monthly_usd, alert_at } = b.config.budget;
  const periods = [
    {
      period: `day:${dayKey(now)}`,
      spent: await b.store.spend.today(b.repo, now),
      limit: daily_usd,
      name: "daily" as const,
    },
    {
      period: `month:${monthKey(now)}`,
      spent: await b.store.spend.month(b.repo, now),
      limit: monthly_usd,
      name: "monthly" as const,
    },
  ];
  const out: BudgetAlert[] = [];
  for (const p of periods) {
    const levels = levelsReached(p.spent, p.limit, alert_at);
    // A refused call of this period raises the 100% level even below the limit (estimate + spend > limit).
    if (stopped?.period === (p.name === "daily" ? "day" : "month") && !levels.includes(100))
      levels.push(100);
    const fresh: number[] = [];
    for (const l of levels)
      if (await b.store.spend.markAlert(b.repo, p.period, l, now)) fresh.push(l);
    if (fresh.length) out.push({ repo: b.repo, ...p, level: Math.max(...levels) });
  }
  return out;
}

/**
 * A repository's budget as its LLM clients use it: `check` decides on a call's (or a
 * submission's) estimate before anything is sent — logging a stop, and returning it with the
 * alerts it raises — and `alerts` the alerts the spend recorded since has reached. The caller
 * hands the alerts to the report layer (postBudgetAlerts) and throws the stop.
 */
export function repoBudget(
  ctx: ProcessorContext,
  log: Logger,
): {
  check(
    estimateUsd: number,
    what: string,
  ): Promise<{ stop: BudgetExceededError; alerts: BudgetAlert[] } | null>;
  alerts(): Promise<BudgetAlert[]>;
} {
  const b = { store: ctx.store, repo: ctx.repoName, config: ctx.config, dryRun: ctx.env.dryRun };
  return {
    async check(estimateUsd, what) {
      try {
        await checkBudget({ ...b, env: ctx.env, estimateUsd });
        return null;
      } catch (e) {
        if (!(e instanceof BudgetExceededError)) throw e;
        log.warn(
          { period: e.period, spent: e.spentUsd, limit: e.limitUsd, estimateUsd },
          `budget stop: ${what} not sent`,
        );
        return { stop: e, alerts: e.period !== "run" ? await budgetAlerts(b, e) : [] };
      }
    },
    alerts: async () => await budgetAlerts(b),
  };
}

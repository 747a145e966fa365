import { parseConfig } from "../config/load.js";
import type { Store } from "../store/index.js";
import type { Run } from "../core/domain.js";
import type { DaySpend } from "../store/stats.js";
import { dayKey, monthKey } from "../store/spend.js";
import { TASK_TYPES } from "../core/task-kinds.js";
import type { TaskStatus } from "../core/domain.js";

/** The views the admin API answers with. Pure reads of the store; no secrets, no prompts. */

export type StatusCounts = Record<TaskStatus, number>;
const zeroCounts = (): StatusCounts => ({
  pending: 0,
  running: 0,
  done: 0,
  failed: 0,
  cancelled: 0,
});

export interface PauseView {
  until: number | null;
  by: string | null;
  reason: string | null;
}

export type ReasonKind =
  "paused_all" | "paused" | "config_invalid" | "people_active" | "budget_daily" | "budget_monthly";

export interface Reason {
  kind: ReasonKind;
  message: string;
  /** When the reason ends by itself, if known. */
  until: number | null;
}

export interface RepoStatus {
  repo: string;
  /** paused: nothing but commands runs; waiting: LLM work (or more) waits; active: all work runs. */
  state: "paused" | "waiting" | "active";
  reasons: Reason[];
  /** null: not in the installation list (known only from tasks, spend or a pause). */
  installed: boolean | null;
  pause: PauseView | null;
  peopleActive: boolean;
  lastHumanAt: number | null;
  lastHumanLogin: string | null;
  queue: StatusCounts;
  spend: {
    todayUsd: number;
    monthUsd: number;
    dailyBudgetUsd: number | null;
    monthlyBudgetUsd: number | null;
  };
}

export interface ScheduleView {
  repo: string;
  name: string;
  status: string;
  trigger: string;
  nextRunAt: number | null;
  lastRunAt: number | null;
  runCount: number;
  maxRuns: number | null;
  consecutiveFailures: number;
}

export interface StatusView {
  now: number;
  global: { paused: boolean } & PauseView;
  repos: RepoStatus[];
  activeRepos: string[];
  queue: { byStatus: StatusCounts; byType: Record<string, StatusCounts> };
  spend: { todayUsd: number; monthUsd: number; day: string; month: string };
  schedules: ScheduleView[];
  automerge: { waiting: number };
  runs: { total: number };
}

interface RepoSettings {
  budget: { dailyUsd: number; monthlyUsd: number } | null;
  activeWindowMs: number;
  configValid: boolean | null;
}

const DEFAULT_ACTIVE_WINDOW_MS = 5 * 60_000;
const settingsCache = new Map<string, RepoSettings>();

/** A repository's budgets and activity window from its cached config (null budget: not known yet). */
export async function repoSettings(store: Store, repo: string): Promise<RepoSettings> {
  const row = await store.repos.get(repo);
  if (!row || row.configLoadedAt === null) {
    return { budget: null, activeWindowMs: DEFAULT_ACTIVE_WINDOW_MS, configValid: null };
  }
  if (!row.configValid)
    return { budget: null, activeWindowMs: DEFAULT_ACTIVE_WINDOW_MS, configValid: false };
  const key = `${repo.toLowerCase()}|${row.configHash ?? ""}`;
  const cached = settingsCache.get(key);
  if (cached) return cached;
  let raw: unknown = null;
  try {
    raw = row.configJson === null ? null : (JSON.parse(row.configJson) as unknown);
  } catch {
    raw = undefined;
  }
  const parsed = raw === undefined ? undefined : parseConfig(raw);
  const s: RepoSettings =
    parsed && parsed.ok
      ? {
          budget: {
            dailyUsd: parsed.config.budget.daily_usd,
            monthlyUsd: parsed.config.budget.monthly_usd,
          },
          activeWindowMs: parsed.config.activity.pause_when_active_minutes * 60_000,
          configValid: true,
        }
      : { budget: null, activeWindowMs: DEFAULT_ACTIVE_WINDOW_MS, configValid: false };
  if (settingsCache.size > 10_000) settingsCache.clear();
  settingsCache.set(key, s);
  return s;
}

const iso = (t: number): string => new Date(t).toISOString();

async function pauseOf(store: Store, repo: string, now: number): Promise<PauseView | null> {
  const a = await store.activity.get(repo);
  if (!a.paused || (a.pausedUntil !== null && a.pausedUntil <= now)) return null;
  return { until: a.pausedUntil, by: a.pausedBy, reason: a.pausedReason };
}

function describePause(p: PauseView, all: boolean): string {
  const who = p.by ? ` by ${p.by}` : "";
  const until = p.until ? ` until ${iso(p.until)}` : " until resumed";
  const why = p.reason ? `: ${p.reason}` : "";
  return `${all ? "all repositories paused" : "paused"}${who}${until}${why}`;
}

const usd = (n: number): string => `$${n.toFixed(2)}`;

function triggerOf(spec: Record<string, unknown>): string {
  if (typeof spec.every === "string") return `every ${spec.every}`;
  if (typeof spec.cron === "string")
    return `cron ${spec.cron}${typeof spec.timezone === "string" ? ` (${spec.timezone})` : ""}`;
  const idle = spec.idle as { minutes?: unknown } | undefined;
  if (idle && typeof idle.minutes === "number") return `idle ${idle.minutes}m`;
  if (spec.once === true) return "once";
  return "manual";
}

export async function buildStatus(store: Store, now = Date.now()): Promise<StatusView> {
  const globalPause = await pauseOf(store, "*", now);
  const installed = new Map(
    (await store.repos.list()).map((r) => [r.fullName.toLowerCase(), r.installed]),
  );
  const spendRows = new Map(
    (await store.stats.spendByRepo(now)).map((r) => [r.repo.toLowerCase(), r]),
  );
  const queueByRepo = new Map<string, StatusCounts>();
  const byType: Record<string, StatusCounts> = Object.fromEntries(
    TASK_TYPES.map((t) => [t, zeroCounts()]),
  );
  const byStatus = zeroCounts();
  for (const c of await store.tasks.counts()) {
    const key = c.repo.toLowerCase();
    const q = queueByRepo.get(key) ?? zeroCounts();
    q[c.status] = (q[c.status] ?? 0) + c.count;
    queueByRepo.set(key, q);
    const t = (byType[c.type] ??= zeroCounts());
    t[c.status] = (t[c.status] ?? 0) + c.count;
    byStatus[c.status] = (byStatus[c.status] ?? 0) + c.count;
  }

  const repos: RepoStatus[] = [];
  for (const repo of await store.stats.repoNames()) {
    const key = repo.toLowerCase();
    const settings = await repoSettings(store, repo);
    const activity = await store.activity.get(repo);
    const pause = await pauseOf(store, repo, now);
    const spend = spendRows.get(key) ?? { todayUsd: 0, monthUsd: 0 };
    const reasons: Reason[] = [];
    if (globalPause)
      reasons.push({
        kind: "paused_all",
        message: describePause(globalPause, true),
        until: globalPause.until,
      });
    if (pause)
      reasons.push({ kind: "paused", message: describePause(pause, false), until: pause.until });
    if (settings.configValid === false) {
      reasons.push({
        kind: "config_invalid",
        message: "the config file is invalid: no new work until it is fixed",
        until: null,
      });
    }
    const peopleActive =
      activity.lastHumanAt !== null &&
      settings.activeWindowMs > 0 &&
      now - activity.lastHumanAt < settings.activeWindowMs;
    if (peopleActive) {
      const who = activity.lastHumanLogin ? ` (${activity.lastHumanLogin})` : "";
      reasons.push({
        kind: "people_active",
        message: `people active${who}: LLM work waits until ${iso(activity.lastHumanAt! + settings.activeWindowMs)}`,
        until: activity.lastHumanAt! + settings.activeWindowMs,
      });
    }
    const b = settings.budget;
    if (b && spend.todayUsd >= b.dailyUsd) {
      const tomorrow = Date.parse(`${dayKey(now)}T00:00:00Z`) + 86_400_000;
      reasons.push({
        kind: "budget_daily",
        message: `daily budget spent (${usd(spend.todayUsd)} of ${usd(b.dailyUsd)})`,
        until: tomorrow,
      });
    }
    if (b && spend.monthUsd >= b.monthlyUsd) {
      const d = new Date(now);
      reasons.push({
        kind: "budget_monthly",
        message: `monthly budget spent (${usd(spend.monthUsd)} of ${usd(b.monthlyUsd)})`,
        until: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1),
      });
    }
    const state: RepoStatus["state"] =
      globalPause || pause ? "paused" : reasons.length ? "waiting" : "active";
    repos.push({
      repo,
      state,
      reasons,
      installed: installed.get(key) ?? null,
      pause,
      peopleActive,
      lastHumanAt: activity.lastHumanAt,
      lastHumanLogin: activity.lastHumanLogin,
      queue: queueByRepo.get(key) ?? zeroCounts(),
      spend: {
        todayUsd: spend.todayUsd,
        monthUsd: spend.monthUsd,
        dailyBudgetUsd: b?.dailyUsd ?? null,
        monthlyBudgetUsd: b?.monthlyUsd ?? null,
      },
    });
  }

  const schedules = (await store.schedules.list())
    .filter((s) => s.status === "active" && s.nextRunAt !== null)
    .sort((a, b) => (a.nextRunAt ?? 0) - (b.nextRunAt ?? 0))
    .slice(0, 20)
    .map((s): ScheduleView => ({
      repo: s.repo,
      name: s.name,
      status: s.status,
      trigger: triggerOf(s.spec),
      nextRunAt: s.nextRunAt,
      lastRunAt: s.lastRunAt,
      runCount: s.runCount,
      maxRuns: s.maxRuns,
      consecutiveFailures: s.consecutiveFailures,
    }));

  let todayUsd = 0;
  let monthUsd = 0;
  for (const r of spendRows.values()) {
    todayUsd += r.todayUsd;
    monthUsd += r.monthUsd;
  }
  const amCounts = await store.stats.automergeCounts();
  return {
    now,
    global: globalPause
      ? { paused: true, ...globalPause }
      : { paused: false, until: null, by: null, reason: null },
    repos,
    activeRepos: repos.filter((r) => r.state === "active").map((r) => r.repo),
    queue: { byStatus, byType },
    spend: { todayUsd, monthUsd, day: dayKey(now), month: monthKey(now) },
    schedules,
    automerge: {
      waiting: amCounts
        .filter((c) => ["waiting", "queued", "blocked"].includes(c.state))
        .reduce((n, c) => n + c.count, 0),
    },
    runs: { total: await store.runs.count() },
  };
}

export interface SpendView {
  repo: string | null;
  days: DaySpend[];
  todayUsd: number;
  monthUsd: number;
  /** Summed over the repositories whose budget is known (all of them when `repo` is null). */
  budget: { dailyUsd: number | null; monthlyUsd: number | null; reposWithoutBudget: string[] };
}

/** Spend per day over the last `days` days (oldest first, every day present), against the budgets. */
export async function buildSpend(
  store: Store,
  days: number,
  repo: string | undefined,
  now = Date.now(),
): Promise<SpendView> {
  const today = Date.parse(`${dayKey(now)}T00:00:00Z`);
  const from = dayKey(today - (days - 1) * 86_400_000);
  const monthStart = `${monthKey(now)}-01`;
  const rows = new Map(
    (await store.stats.dailySpend(from < monthStart ? from : monthStart, repo)).map((r) => [
      r.day,
      r,
    ]),
  );
  const list: SpendView["days"] = [];
  for (let i = days - 1; i >= 0; i--) {
    const day = dayKey(today - i * 86_400_000);
    const r = rows.get(day);
    list.push({
      day,
      costUsd: r?.costUsd ?? 0,
      calls: r?.calls ?? 0,
      promptTokens: r?.promptTokens ?? 0,
      cachedTokens: r?.cachedTokens ?? 0,
      completionTokens: r?.completionTokens ?? 0,
    });
  }
  let monthUsd = 0;
  for (const [day, r] of rows) if (day >= monthStart) monthUsd += r.costUsd;
  const names = repo ? [repo] : await store.stats.repoNames();
  let daily: number | null = null;
  let monthly: number | null = null;
  const without: string[] = [];
  for (const n of names) {
    const b = (await repoSettings(store, n)).budget;
    if (!b) {
      without.push(n);
      continue;
    }
    daily = (daily ?? 0) + b.dailyUsd;
    monthly = (monthly ?? 0) + b.monthlyUsd;
  }
  return {
    repo: repo ?? null,
    days: list,
    todayUsd: rows.get(dayKey(now))?.costUsd ?? 0,
    monthUsd,
    budget: { dailyUsd: daily, monthlyUsd: monthly, reposWithoutBudget: without },
  };
}

/**
 * A web link for what a run is about: its own url (http/https only), else one derived from repo
 * and ref: `pr:12` -> the pull request, `issue:3`, `#3` or `owner/repo#3` -> the issue (GitHub
 * redirects an issue number that is a pull request). Linear refs need the run's own url.
 */
export function linkFor(
  repo: string,
  ref: string | null,
  url: string | null,
  githubUrl = "https://github.com",
): string | null {
  if (url && /^https?:\/\//i.test(url)) return url;
  if (!ref) return null;
  const name = /^[\w.-]+\/[\w.-]+$/;
  const t = ref.trim();
  const typed = /^(pr|pull|issue|issues):(\d+)$/i.exec(t);
  if (typed && name.test(repo))
    return `${githubUrl}/${repo}/${/^p/i.test(typed[1]!) ? "pull" : "issues"}/${typed[2]}`;
  const hash = /^(?:([\w.-]+\/[\w.-]+))?#(\d+)$/.exec(t);
  const target = hash?.[1] ?? repo;
  if (hash && name.test(target)) return `${githubUrl}/${target}/issues/${hash[2]}`;
  return null;
}

const clip = (s: string | null, n: number): string | null =>
  s === null ? null : s.length > n ? `${s.slice(0, n)}…` : s;

export const cacheShare = (prompt: number, cached: number): number | null =>
  prompt > 0 ? cached / prompt : null;

export function runView(r: Run, githubUrl?: string) {
  return {
    id: r.id,
    repo: r.repo,
    kind: r.kind,
    ref: r.ref,
    link: linkFor(r.repo, r.ref, r.url, githubUrl),
    taskId: r.taskId,
    batchId: r.batchId,
    status: r.status,
    summary: clip(r.summary, 500),
    error: clip(r.error, 500),
    promptTokens: r.promptTokens,
    cachedTokens: r.cachedTokens,
    completionTokens: r.completionTokens,
    cacheHitShare: cacheShare(r.promptTokens, r.cachedTokens),
    costUsd: r.costUsd,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
  };
}

export { clip };

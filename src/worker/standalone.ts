import { redactSecrets } from "../util/secrets.js";
import { defaultConfig } from "../config/load.js";
import { hasMarker } from "../report/markers.js";
import type { GitHubClient, RepoRef } from "../integrations/github.js";
import { httpStatus, parseRepo } from "../integrations/github.js";
import type { LinearGateway } from "../integrations/linear-types.js";
import type { Llm, LlmSettings } from "../llm/types.js";
import { BudgetExceededError, LlmUnavailableError } from "../llm/types.js";
import type { Logger } from "../log.js";
import { redactingLogger } from "../log.js";
import { createProcessors } from "../processors/index.js";
import { findDashboardIssue } from "../report/dashboard-issue.js";
import type { HistoryState, RunRecord } from "../report/run-history.js";
import {
  emptyHistory,
  mergeHistory,
  monthSpend,
  readHistory,
  renderDashboard,
} from "../report/run-history.js";
import type { Db } from "../store/db.js";
import { restoreSchedules, saveSchedules } from "../schedule/persist.js";
import { enqueueEventTasks } from "../schedule/event-trigger.js";
import type { TriggerEvent } from "./trigger-event.js";
import { createStore } from "../store/index.js";
import type { Store } from "../store/index.js";
import { dayKey } from "../store/spend.js";
import { collectCommands as defaultCollector } from "../commands/scan.js";
import { githubActivityReader } from "./github-activity.js";
import { runPass } from "./pass.js";
import { lastHumanActivity } from "../core/paused.js";
import type { LoadedConfig } from "../config/loader.js";
import { loadRunConfig } from "../config/loader.js";
import type { BatchHooks, RunSummary } from "./runner.js";
import {
  addUsage,
  budgetStop,
  captureOutcomes,
  configNotes,
  emptySummary,
  meteredLlm,
  spendDelta,
  summarizePass,
} from "./runner.js";
import { createRunState } from "../core/run-state.js";
import type { Mode, Processor, ProcessorContext, WorkerEnv } from "../core/worker-contract.js";
import { kindOf } from "../core/task-kinds.js";
import { TYPES_BY_MODE } from "../core/worker-contract.js";
import { errText } from "../util/errors.js";

/** A run that cannot start (bad token, unknown repository): the message says what to fix. */
export class RunError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RunError";
  }
}

export interface RunOnceOptions {
  /** owner/name */
  repo: string;
  mode: Mode;
  dryRun: boolean;
  octokit: GitHubClient;
  /** A fresh database: sql.js in the Action, better-sqlite3 `:memory:` in the CLI. */
  openDb: () => Promise<Db>;
  log: Logger;
  llm: LlmSettings | LlmUnavailableError;
  /** Tests inject a scripted LLM; otherwise src/llm's client. */
  createLlm?: (ctx: ProcessorContext) => Llm;
  linear?: LinearGateway;
  /** The checked-out repository (GITHUB_WORKSPACE or the working directory). */
  workspace?: string;
  /** Default `.github/bg-agent.yml`. */
  configPath?: string;
  /** Other owners (or owner/repo) the config's `_extends` may name (BG_CONFIG_EXTENDS_ALLOW). */
  configExtendsAllow?: readonly string[];
  /** A cap on this run's spend on top of the budgets. */
  runCapUsd?: number;
  processors?: readonly Processor[];
  /** Lease owner id, e.g. `runner:<run id>`. */
  owner?: string;
  /** A link to this run (the workflow run page), shown in the dashboard. */
  runUrl?: string;
  now?: () => number;
  /**
   * At most one read of GitHub for human activity per this interval within the run (default
   * 60 s): the check before every LLM call reuses the last read in between.
   */
  activityRecheckMs?: number;
  /** The event that started this workflow run: `on:` tasks it matches run in this run. */
  event?: TriggerEvent;
}

export interface StandaloneOptions extends RunOnceOptions {
  /** Defaults to src/commands' scan; null turns it off. */
  collectCommands?: typeof defaultCollector | null;
}

/** What runStandalone and runConnected share: the checks, the config, the store and the worker env. */
export interface PreparedRun {
  ref: RepoRef;
  store: Store;
  config: LoadedConfig;
  env: WorkerEnv;
  summary: RunSummary;
  meter: ReturnType<typeof meteredLlm>;
  /** Set when LLM work must not start (a spent budget); the meter refuses calls then. */
  stopLlm: { reason: string | null };
}

/** Checks the token against the repository, loads the config, opens the store and builds the worker env. */
export async function prepareRun(o: RunOnceOptions, via: RunSummary["via"]): Promise<PreparedRun> {
  const now = o.now ?? Date.now;
  const startedAt = now();
  let ref: RepoRef;
  try {
    ref = parseRepo(o.repo);
  } catch (e) {
    throw new RunError(
      `${errText(e)} (set --repo, GITHUB_REPOSITORY or the workflow's repository)`,
    );
  }
  let defaultBranch: string | undefined;
  try {
    const { data } = await o.octokit.rest.repos.get({ ...ref });
    defaultBranch = data.default_branch;
  } catch (e) {
    const status = httpStatus(e);
    if (status === 401) {
      throw new RunError(
        "GitHub refused the token (401 Bad credentials): pass a valid token (the github-token input, default ${{ github.token }}, or GITHUB_TOKEN for the CLI).",
      );
    }
    if (status === 404 || status === 403) {
      throw new RunError(
        `The repository ${o.repo} was not found with this token (${status}): check the repository name and that the token can read it.`,
      );
    }
    throw new RunError(`GitHub did not answer for ${o.repo}: ${errText(e)}`);
  }

  const config = await loadRunConfig({
    octokit: o.octokit,
    ref,
    configPath: o.configPath,
    extendsAllow: o.configExtendsAllow,
  });
  const repoConfig = config.result.ok ? config.result.config : defaultConfig();
  const store = createStore(await o.openDb());
  await store.repos.upsert({ fullName: o.repo, defaultBranch: defaultBranch ?? null }, startedAt);
  await store.repos.setConfig(
    o.repo,
    {
      json:
        config.result.raw === null || config.result.raw === undefined
          ? null
          : JSON.stringify(config.result.raw),
      hash: config.result.hash,
      valid: config.result.ok,
      errors: config.result.problems.map((p) => `${p.path}: ${p.message}`),
    },
    startedAt,
  );

  const summary = emptySummary({
    repo: o.repo,
    mode: o.mode,
    via,
    dryRun: o.dryRun,
    startedAt,
    config,
    budget: repoConfig.budget,
  });
  summary.notes.push(...configNotes(config));

  const stopLlm: { reason: string | null } = { reason: null };
  const meter = meteredLlm(o.createLlm, () =>
    stopLlm.reason ? new BudgetExceededError("run", summary.costUsd, 0, null) : null,
  );
  const env: WorkerEnv = {
    store,
    log: redactingLogger(o.log),
    github: async () => o.octokit,
    config: async () => config.result,
    llm: o.llm,
    createLlm: meter.createLlm,
    ...(o.linear ? { linear: o.linear } : {}),
    dryRun: o.dryRun,
    run: createRunState(),
    ...(o.workspace ? { workspace: o.workspace } : {}),
    ...(o.runCapUsd !== undefined ? { runCapUsd: o.runCapUsd } : {}),
    owner: o.owner ?? `runner:${process.pid}`,
  };
  // No webhook tells a runner that people are at work: it reads what GitHub records, now and
  // again (at most every activityRecheckMs) before LLM calls.
  const activity = githubActivityReader({
    octokit: o.octokit,
    ref,
    repo: o.repo,
    store,
    log: o.log,
    warn: (m) => summary.notes.push(m),
    ...(o.activityRecheckMs !== undefined ? { intervalMs: o.activityRecheckMs } : {}),
    now,
  });
  env.refreshActivity = () => activity.refresh();
  env.activitySeen = () => activity.seen();
  await activity.refresh();
  return { ref, store, config, env, summary, meter, stopLlm };
}

/**
 * The processors this run may use: LLM work is held back (and said so) without an LLM, or with
 * a budget already spent; everything else (commands, merges) still runs.
 */
export function selectProcessors(
  o: RunOnceOptions,
  run: PreparedRun,
  allProcessors: readonly Processor[],
): readonly Processor[] {
  let all = allProcessors;
  const llmOff =
    run.stopLlm.reason ??
    (o.llm instanceof LlmUnavailableError && !o.createLlm ? o.llm.message : null);
  // This run's store is gone when it ends: a fix approved in it must run in it, or wait.
  const fixes = all.some((p) => p.type === "fix");
  if (!TYPES_BY_MODE[o.mode].includes("fix") || !fixes)
    run.env.fixesHeldBack = `this run (mode \`${o.mode}\`) does not carry out fixes`;
  else if (llmOff) run.env.fixesHeldBack = `this run does no LLM work (${llmOff})`;
  // A runner's store ends with the run: kinds whose state must last (discovery's proposals) are the app's.
  const appOnly = all.filter((p) => kindOf(p.type).appOnly).map((p) => p.type);
  if (appOnly.length && run.config.result.ok && run.config.result.config.discovery.enabled)
    run.summary.notes.push(
      `Not run here: ${appOnly.join(", ")} (the app runs it: a runner keeps no proposals between runs).`,
    );
  all = all.filter((p) => !kindOf(p.type).appOnly);
  if (!llmOff) return all;
  const held = all.filter((p) => p.usesLlm).map((p) => p.type);
  if (held.length)
    run.summary.skipped.push({ reason: `LLM work (${held.join(", ")}) not started: ${llmOff}` });
  return all.filter((p) => !p.usesLlm);
}

/** Runs the pass with outcomes captured, and fills the summary. */
export async function passAndSummarize(
  run: PreparedRun,
  processors: readonly Processor[],
  o: { repo: string; mode: Mode; sweep: boolean; hooks?: BatchHooks },
): Promise<void> {
  const captured = captureOutcomes(processors, {
    sweep: o.sweep,
    ...(o.hooks ? { hooks: o.hooks } : {}),
  });
  const pass = await runPass(run.env, captured.processors, {
    repo: o.repo,
    mode: o.mode,
    sweep: o.sweep,
    concurrency: 1,
  });
  await summarizePass(run.summary, pass, captured.outcomes, run.store);
  addUsage(run.summary, run.meter.totals);
  const config = run.config.result.ok ? run.config.result.config : defaultConfig();
  const seen = run.env.activitySeen?.(o.repo) ?? null;
  const line = await lastHumanActivity(
    { store: run.store, repoName: o.repo, config, env: run.env },
    Date.now(),
  );
  run.summary.activity = seen;
  run.summary.notes.push(
    line
      ? `Last human activity: ${line}.`
      : "No human activity seen in the repository's recent events and comments.",
  );
}

/**
 * One standalone run, the same in the Action and the CLI: state is hydrated from GitHub (the
 * dashboard issue's hidden block: this month's spend, the last run time, a pause, the scheduled
 * tasks' last and next runs), commands left
 * since the last run are queued, a sweeping pass runs every processor, and the dashboard issue
 * gets the run and the new spend (not in a dry run).
 */
export async function runStandalone(o: StandaloneOptions): Promise<RunSummary> {
  const run = await prepareRun(o, "standalone");
  try {
    return await standalonePass(o, run);
  } finally {
    await run.store.close();
  }
}

async function standalonePass(o: StandaloneOptions, run: PreparedRun): Promise<RunSummary> {
  const now = o.now ?? Date.now;
  const { ref, store, summary, config } = run;
  const log = o.log.child({ repo: o.repo });
  const budget = (config.result.ok ? config.result.config : defaultConfig()).budget;
  const title = (config.result.ok ? config.result.config : defaultConfig()).dashboard.issue_title;

  // 1. What earlier runs left in the dashboard issue.
  let history: HistoryState = emptyHistory();
  let dashboard: { number: number; body: string } | null = null;
  let historyReadable = true;
  try {
    dashboard = await findDashboardIssue(o.octokit, ref, { title, create: false });
    if (dashboard) {
      const read = readHistory(dashboard.body);
      history = read.state;
      if (read.problem) {
        historyReadable = false;
        summary.errors.push(
          `The dashboard issue #${dashboard.number}: ${read.problem}. LLM work waits until it is repaired.`,
        );
      }
    }
  } catch (e) {
    historyReadable = false;
    summary.errors.push(
      `Could not read the dashboard issue (${errText(e)}): without this month's spend, LLM work waits. Grant \`issues: write\`.`,
    );
  }
  const hydrated = monthSpend(history.spend, now());
  for (const [day, usd] of Object.entries(hydrated)) await store.spend.setDay(o.repo, day, usd);
  if (history.paused && (history.paused.until === null || history.paused.until > now())) {
    await store.activity.pause(
      o.repo,
      history.paused.by,
      history.paused.until,
      history.paused.reason,
    );
  }
  summary.budget.spentTodayUsd = await store.spend.today(o.repo, now());
  summary.budget.spentMonthUsd = await store.spend.month(o.repo, now());
  run.stopLlm.reason = historyReadable
    ? budgetStop(budget, summary.budget.spentTodayUsd, summary.budget.spentMonthUsd, now())
    : "this month's spend could not be read from the dashboard issue";
  if (run.stopLlm.reason && historyReadable) summary.budget.stopped = run.stopLlm.reason;

  // Scheduled tasks take back their state from earlier runs (never from defaults standing in
  // for a broken file: that would drop every task).
  const tasksConfig = config.result.ok ? config.result.config.tasks : null;
  if (tasksConfig && historyReadable) {
    const r = await restoreSchedules(store, o.repo, tasksConfig, history.schedules, now());
    if (r.restored.length || r.fresh.length)
      log.debug(r, "schedules restored from the dashboard issue");
    // Started by an event (`on: workflow_run`, …): the `on:` tasks it matches run now (no
    // debounce: this run is the only chance).
    if (o.event) {
      const queued = await enqueueEventTasks(store, o.repo, tasksConfig, o.event, now(), {
        debounce: false,
      });
      if (queued.length)
        summary.notes.push(
          `Started by the ${o.event.name} event: ${queued.map((q) => `\`${q.name}\``).join(", ")} queued (on:).`,
        );
    }
  }

  // 2. Commands people left since the last run.
  const collector = o.collectCommands === undefined ? defaultCollector : o.collectCommands;
  if (collector) {
    const since = Math.max(
      now() - 7 * 86_400_000,
      (history.lastRunAt ?? now() - 86_400_000) - 5 * 60_000,
    );
    try {
      await collector(o.octokit, ref, store, { since });
    } catch (e) {
      summary.errors.push(`Could not collect /bg commands: ${errText(e)}`);
    }
  } else {
    summary.notes.push(
      "The /bg commands scan is not available in this build; commands wait for the app.",
    );
  }

  // 3. The pass: sweep for work, then process.
  // The scan above looked back to the last run (up to 7 days): the command processor's own sweep
  // (48 hours, for the app's missed webhooks) would list the same comments again.
  const processors = selectProcessors(o, run, o.processors ?? createProcessors()).map((p) =>
    collector && p.type === "command" ? withoutSweep(p) : p,
  );
  await passAndSummarize(run, processors, { repo: o.repo, mode: o.mode, sweep: true });
  summary.finishedAt = now();
  summary.budget.spentTodayUsd = Math.max(
    summary.budget.spentTodayUsd + summary.costUsd,
    await store.spend.today(o.repo, now()),
  );
  summary.budget.spentMonthUsd = Math.max(
    summary.budget.spentMonthUsd + summary.costUsd,
    await store.spend.month(o.repo, now()),
  );

  // 4. Report back in the dashboard issue.
  if (o.dryRun) {
    summary.notes.push("Dry run: nothing was written to GitHub, Linear or the dashboard issue.");
  } else {
    try {
      summary.dashboard = await writeDashboard(o, run, {
        dashboard,
        title,
        budget,
        hydrated,
        historyReadable,
        schedules: tasksConfig && historyReadable ? await saveSchedules(store, o.repo) : undefined,
      });
    } catch (e) {
      summary.errors.push(`Could not update the dashboard issue: ${errText(e)}`);
      log.error({ err: e }, "dashboard update failed");
    }
  }
  return summary;
}

async function writeDashboard(
  o: StandaloneOptions,
  run: PreparedRun,
  d: {
    dashboard: { number: number; body: string } | null;
    title: string;
    budget: { daily_usd: number; monthly_usd: number };
    hydrated: Record<string, number>;
    historyReadable: boolean;
    /** The scheduled tasks' state after this run; undefined keeps the saved one. */
    schedules: HistoryState["schedules"] | undefined;
  },
): Promise<{ number: number; url: string }> {
  const { ref, store, summary } = run;
  const now = (o.now ?? Date.now)();
  let issue = d.dashboard;
  if (!issue) {
    issue = await findDashboardIssue(o.octokit, ref, { title: d.title, create: true });
    if (!issue) throw new Error("the dashboard issue could not be created");
    await pinIssue(o.octokit, ref, issue.number, o.log);
  }
  // Re-read right before writing, so spend recorded by a run that finished meanwhile is kept.
  const { data: fresh } = await o.octokit.rest.issues.get({ ...ref, issue_number: issue.number });
  const freshBody = fresh.body ?? "";
  const current = hasMarker(freshBody, "dashboard", "main")
    ? readHistory(freshBody)
    : { state: emptyHistory() };
  if (!d.historyReadable && "problem" in current && current.problem) {
    throw new Error(
      `the state block of #${issue.number} is unreadable (${current.problem}); not overwriting it`,
    );
  }
  const delta = await spendDelta(store, o.repo, d.hydrated, now);
  const recorded = Object.values(delta).reduce((a, b) => a + b, 0);
  if (summary.costUsd - recorded > 1e-9) {
    const today = dayKey(now);
    delta[today] = (delta[today] ?? 0) + (summary.costUsd - recorded);
  }
  const pause = await store.activity.manualPause(o.repo, now);
  const record: RunRecord = {
    at: summary.startedAt,
    mode: summary.mode,
    via: summary.via,
    analysed: summary.analysed,
    merged: summary.merged,
    skipped: summary.skipped.length,
    failed: summary.failed.length,
    tokens: summary.tokens.total,
    costUsd: summary.costUsd,
    ...(o.runUrl ? { url: o.runUrl } : {}),
  };
  const next = mergeHistory(
    current.state,
    {
      spentDelta: delta,
      run: record,
      lastRunAt: summary.startedAt,
      paused: pause
        ? { by: pause.pausedBy ?? "an admin", until: pause.pausedUntil, reason: pause.pausedReason }
        : null,
      ...(d.schedules ? { schedules: d.schedules } : {}),
    },
    now,
  );
  const body = renderDashboard(
    next,
    { dailyUsd: d.budget.daily_usd, monthlyUsd: d.budget.monthly_usd },
    now,
  );
  const { data } = await o.octokit.rest.issues.update({
    ...ref,
    issue_number: issue.number,
    body: redactSecrets(body),
  });
  return { number: data.number, url: data.html_url };
}

/** Pins the dashboard issue (GraphQL pinIssue); a token that may not pin just leaves it unpinned. */
async function pinIssue(
  octokit: GitHubClient,
  ref: RepoRef,
  number: number,
  log: Logger,
): Promise<void> {
  try {
    const { data } = await octokit.rest.issues.get({ ...ref, issue_number: number });
    await octokit.graphql(
      "mutation($id: ID!) { pinIssue(input: { issueId: $id }) { issue { number } } }",
      { id: data.node_id },
    );
  } catch (e) {
    log.debug({ err: e }, "could not pin the dashboard issue");
  }
}

/** The processor without its sweep (what it queues from GitHub was queued another way). */
function withoutSweep(p: Processor): Processor {
  const { sweep: _sweep, ...rest } = p;
  return rest;
}

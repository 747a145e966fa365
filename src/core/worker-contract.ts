/**
 * The worker contract: what a processor is and what the worker hands it. The app, the CLI and the
 * Action compose a WorkerEnv; processors, llm/ and context/ depend on this file, never on
 * src/worker/. Type-only references to the services it names (Store, GitHubClient, RepoConfig,
 * Logger, Llm): core holds no code of theirs.
 */
import type { ConfigResult } from "../config/load.js";
import type { RepoConfig } from "../config/schema.js";
import type { GitHubClient, RepoRef } from "../integrations/github.js";
import type { LinearGateway } from "../integrations/linear-types.js";
import type { Llm, LlmSettings, LlmUnavailableError } from "../llm/types.js";
import type { Logger } from "../log.js";
import type { Store } from "../store/index.js";
import type { Task } from "./domain.js";
import type { TaskType } from "./task-kinds.js";
import type { RunState } from "./run-state.js";

export { MODES, TYPES_BY_MODE } from "./task-kinds.js";
export type { Mode } from "./task-kinds.js";

/** What the app, the CLI and the Action hand the worker. */
export interface WorkerEnv {
  store: Store;
  log: Logger;
  /** A GitHub client for a repository (installation token in the app, GITHUB_TOKEN in a runner). */
  github(repo: string): Promise<GitHubClient>;
  /** The repository's validated config (cached). */
  config(repo: string, octokit: GitHubClient): Promise<ConfigResult>;
  /** LLM settings from the environment or Action inputs, or why there are none. */
  llm: LlmSettings | LlmUnavailableError;
  /** Builds a repository's budget-checked LLM client. Set by src/llm; tests may replace it. */
  createLlm?: (ctx: ProcessorContext, o?: { model?: string }) => Llm;
  /** Linear, when LINEAR_API_KEY (or the linear-api-key input) is set. */
  linear?: LinearGateway;
  dryRun: boolean;
  /** This run's spend and memos (createRunState()): one per run, the app's one per process. */
  run: RunState;
  /** The checked-out repository (GITHUB_WORKSPACE), when there is one. */
  workspace?: string;
  /** A cap on this run's spend on top of the budgets (the Action's max-cost-usd). */
  runCapUsd?: number;
  /** Lease owner id: unique per worker process. */
  owner: string;
  /** Links to the app's pages, when it is reachable. */
  publicUrl?: string;
  /**
   * bg-agent's own GitHub login when this process knows it (the app: `<slug>[bot]`, learned at
   * start-up). Runners do not know theirs; then any bot's markers are believed (see isOwnAuthor).
   */
  selfLogin?: () => string | undefined;
  /**
   * Set by a runner (standalone or connected: its store is discarded when the run ends) whose pass
   * will not carry out fixes (another mode, no LLM work): why. `/bg approve` then leaves a fix plan
   * open instead of queuing a fix that no later run would see.
   */
  fixesHeldBack?: string;
  /**
   * Runners (standalone, connected): re-reads the repository's last human activity from GitHub
   * into the store, at most once per its interval (cheap to call often). The app has none: its
   * store is fed by webhooks.
   */
  refreshActivity?: (repo: string) => Promise<void>;
  /** Runners: what the last read of GitHub saw (who, what, when), for `/bg status`. */
  activitySeen?: (repo: string) => { login: string; what: string; at: number } | null;
}

export interface ProcessorContext {
  repo: RepoRef;
  repoName: string;
  octokit: GitHubClient;
  /** The validated config, or the defaults when the file is invalid (then `configResult.ok` is false). */
  config: RepoConfig;
  configResult: ConfigResult;
  store: Store;
  log: Logger;
  env: WorkerEnv;
  /**
   * Set by the pass for each batch: the check before every LLM call (people active, a manual
   * pause). Throws PausedError (src/worker/pause.ts) when the work must wait.
   */
  beforeLlm?: () => Promise<void>;
  /**
   * Aborted when the pass gives up on this processor call at its outer deadline
   * (worker.processor_timeout): stop work (kill child processes) and return.
   */
  signal?: AbortSignal;
}

export type TaskOutcome =
  | { status: "done"; result?: unknown }
  /**
   * Try again at `at` without counting an attempt: a 409, checks still running, a budget wait.
   * `handedOff`: the work itself went elsewhere and completes there (an OpenAI Batch API job):
   * not a deferral, so the pass goes on claiming.
   */
  | { status: "retry"; at: number; reason: string; handedOff?: boolean }
  | { status: "failed"; error: string; permanent?: boolean }
  | { status: "skipped"; reason: string };

export interface Processor {
  type: TaskType;
  /** LLM work waits while people are active and while paused for budget. */
  usesLlm: boolean;
  batchSize(config: RepoConfig): number;
  /** Cheap, store-only work before claiming, every pass (e.g. due schedules become tasks). */
  prepare?(ctx: ProcessorContext): Promise<void>;
  /** A full sweep of GitHub (or Linear) for what webhooks missed; on sweeping passes only. */
  sweep?(ctx: ProcessorContext): Promise<void>;
  /** Repositories this processor has due work for, beyond queued tasks (e.g. due schedules). */
  dueRepos?(store: Store, now: number): Promise<string[]>;
  process(ctx: ProcessorContext, tasks: Task[]): Promise<Map<number, TaskOutcome>>;
}

export interface RepoPassSummary {
  repo: string;
  skipped?: string;
  processed: {
    taskId: number;
    type: TaskType;
    source: string;
    outcome: TaskOutcome["status"];
    detail?: string | undefined;
  }[];
}

export interface PassSummary {
  startedAt: number;
  finishedAt: number;
  repos: RepoPassSummary[];
  /** Repositories left to the pass (on another replica) that held their lock: not visited by this one. */
  busy?: string[];
}

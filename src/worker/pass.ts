import { randomUUID } from "node:crypto";
import { defaultConfig } from "../config/load.js";
import { parseRepo } from "../integrations/github.js";
import type { Task } from "../core/domain.js";
import type { Completion } from "../store/tasks.js";
import type {
  Mode,
  PassSummary,
  Processor,
  ProcessorContext,
  RepoPassSummary,
  TaskOutcome,
  WorkerEnv,
} from "../core/worker-contract.js";
import { ORDER, TYPES_BY_MODE } from "../core/task-kinds.js";
import { REQUESTED_PRIORITY } from "../core/paused.js";
import { checkBeforeLlm, pauseState } from "./pause.js";
import { processWithDeadline } from "./deadline.js";
import { errText } from "../util/errors.js";
import type { Coordination } from "../store/coordination.js";

export interface PassOptions {
  mode?: Mode;
  /** Only this repository. */
  repo?: string;
  /** Also sweep GitHub for what webhooks missed (the CLI and the Action always do). */
  sweep?: boolean;
  /** Extra repositories to visit even without due tasks (e.g. every installed repo when sweeping). */
  repos?: string[];
  concurrency?: number;
  leaseMs?: number;
  /** Safety cap on batches per repository and type in one pass. */
  maxBatches?: number;
  /**
   * Repository locks shared with the other passes (replicas: src/store/coordination.ts): a
   * repository whose lock another pass holds is left to it (`busy` in the summary). Without
   * them every repository is worked (one process; claims and leases still keep tasks apart).
   */
  locks?: Pick<Coordination, "tryRepoLock">;
}

/** Runs `fn` over items, at most `n` at a time. */
async function pool<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const runners = Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  });
  await Promise.all(runners);
}

/**
 * One worker pass: for each repository with due work (concurrently, up to `concurrency`),
 * claim due tasks with a lease, batch them by type, process, and record each outcome. A crash
 * leaves the claimed tasks to be claimed again when their lease expires.
 */
export async function runPass(
  env: WorkerEnv,
  processors: readonly Processor[],
  opts: PassOptions = {},
): Promise<PassSummary> {
  const startedAt = Date.now();
  const types = TYPES_BY_MODE[opts.mode ?? "all"];
  const active = processors.filter((p) => types.includes(p.type));
  let repos: string[];
  if (opts.repo) repos = [opts.repo];
  else {
    const set = new Map<string, string>();
    const add = (r: string) => set.set(r.toLowerCase(), set.get(r.toLowerCase()) ?? r);
    (await env.store.tasks.dueRepos(startedAt, types)).forEach(add);
    for (const p of active) (await p.dueRepos?.(env.store, startedAt))?.forEach(add);
    (opts.repos ?? []).forEach(add);
    repos = [...set.values()].sort();
  }
  const summaries: RepoPassSummary[] = [];
  const busy: string[] = [];
  await pool(repos, opts.concurrency ?? 4, async (repo) => {
    const locks = opts.locks;
    if (!locks) {
      summaries.push(await runRepo(env, active, repo, opts));
      return;
    }
    let lock;
    try {
      lock = await locks.tryRepoLock(repo);
    } catch (e) {
      env.log.error(
        { err: e, repo },
        "cannot take the repository's lock; it waits for the next pass",
      );
      summaries.push({
        repo,
        processed: [],
        skipped: `cannot take the repository's lock: ${errText(e)}`,
      });
      return;
    }
    if (!lock) {
      env.log.debug(
        { repo },
        "another pass (another replica) is working this repository: left to it",
      );
      busy.push(repo);
      return;
    }
    try {
      summaries.push(await runRepo(env, active, repo, opts));
    } finally {
      await lock
        .release()
        .catch((e: unknown) =>
          env.log.warn(
            { err: e, repo },
            "could not release the repository's lock (its connection is dropped)",
          ),
        );
    }
  });
  summaries.sort((a, b) => a.repo.localeCompare(b.repo));
  return {
    startedAt,
    finishedAt: Date.now(),
    repos: summaries,
    ...(busy.length ? { busy: busy.sort() } : {}),
  };
}

async function runRepo(
  env: WorkerEnv,
  processors: readonly Processor[],
  repoName: string,
  opts: PassOptions,
): Promise<RepoPassSummary> {
  const log = env.log.child({ repo: repoName });
  const summary: RepoPassSummary = { repo: repoName, processed: [] };
  let ctx: ProcessorContext;
  try {
    const repo = parseRepo(repoName);
    const octokit = await env.github(repoName);
    const configResult = await env.config(repoName, octokit);
    ctx = {
      repo,
      repoName,
      octokit,
      config: configResult.ok ? configResult.config : defaultConfig(),
      configResult,
      store: env.store,
      log,
      env,
    };
  } catch (e) {
    log.error({ err: e }, "cannot reach the repository; its tasks wait for the next pass");
    summary.skipped = `cannot reach the repository: ${errText(e)}`;
    return summary;
  }

  // Dry-run: claimed tasks are held until the end of the repository's pass and then put back as
  // they were, so the same task is not claimed (and run) again within the pass.
  const dryRunHeld: { task: Task; owner: string }[] = [];
  const ordered = ORDER.map((t) => processors.find((p) => p.type === t)).filter(
    (p): p is Processor => !!p,
  );
  for (const p of ordered) {
    if (p.usesLlm) await env.refreshActivity?.(repoName);
    const pause = await pauseState(ctx, p);
    // People active: only what a person explicitly asked for (priority >= REQUESTED_PRIORITY) runs.
    const requestedOnly = pause?.kind === "activity";
    if (pause) {
      log.debug({ type: p.type, why: pause.reason }, "waiting");
      if (p.type !== "command") summary.skipped = pause.reason;
      if (!requestedOnly) continue;
    } else {
      try {
        await p.prepare?.(ctx);
        if (opts.sweep) await p.sweep?.(ctx);
      } catch (e) {
        log.error({ err: e, type: p.type }, "sweep failed; queued tasks still run");
      }
    }
    const maxBatches = opts.maxBatches ?? 50;
    let requested = requestedOnly;
    for (let i = 0; i < maxBatches; i++) {
      // Re-checked before every batch, not once per pass: people who became active (or a manual
      // pause that arrived) since the pass started stop new work here; unclaimed tasks stay queued.
      if (i > 0 && p.type !== "command") {
        if (p.usesLlm) await env.refreshActivity?.(repoName);
        const waits = await pauseState(ctx, p);
        if (waits && !(waits.kind === "activity" && requested)) {
          log.info({ type: p.type, why: waits.reason }, "stopping: the repository must wait now");
          summary.skipped = waits.reason;
          if (waits.kind !== "activity") break;
          requested = true;
        }
      }
      const size = Math.max(1, p.batchSize(ctx.config));
      const owner = claimOwner(env.owner);
      const tasks = await env.store.tasks.claim({
        owner,
        leaseMs: opts.leaseMs ?? 10 * 60_000,
        limit: size,
        repo: repoName,
        types: [p.type],
        ...(requested ? { minPriority: REQUESTED_PRIORITY } : {}),
      });
      if (!tasks.length) break;
      const minPriority = Math.min(...tasks.map((t) => t.priority));
      const batchCtx: ProcessorContext = {
        ...ctx,
        beforeLlm: () => checkBeforeLlm(ctx, p, minPriority),
      };
      const outcomes = await processBatch(
        env,
        owner,
        p,
        batchCtx,
        tasks,
        opts.leaseMs ?? 10 * 60_000,
      );
      const settled = tasks.map((t): [Task, TaskOutcome] => [
        t,
        outcomes.get(t.id) ?? { status: "failed", error: "the processor returned no outcome" },
      ]);
      if (env.dryRun) dryRunHeld.push(...tasks.map((task) => ({ task, owner })));
      else await applyOutcomes(env, owner, settled);
      for (const [t, o] of settled) {
        summary.processed.push({
          taskId: t.id,
          type: t.type,
          source: t.source,
          outcome: o.status,
          detail: detailOf(o),
        });
      }
      // A claim holds several calls' worth (analysis): a pause that stopped its later calls is
      // the pass's reason too, as when it is found between claims.
      const deferred = [...outcomes.values()].filter((o) => o.status === "retry" && !o.handedOff);
      if (deferred.length && !summary.skipped && p.type !== "command") {
        const waits = await pauseState(ctx, p);
        if (waits) summary.skipped = waits.reason;
      }
      // Everything deferred (a budget stop, a pause): nothing more will happen for this type in
      // this pass. Work handed off (submitted to the OpenAI Batch API) is progress: go on.
      if (deferred.length === outcomes.size) break;
      if (tasks.length < size) break;
    }
  }
  // Dry-run: nothing is recorded as done; each task goes back, not due again before a lease
  // would have run out, so the same pass does not claim (and redo) it again and again.
  for (const { task: t, owner } of dryRunHeld)
    await env.store.tasks.release([t.id], owner, Math.max(t.nextRunAt, Date.now() + 10 * 60_000));
  return summary;
}

/**
 * The lease owner of one claim: the worker's id and a tag of its own. A claim whose lease ran out
 * and whose tasks this same process claimed again (its repository lock was lost with a dropped
 * connection) then cannot complete, fail or release what the newer claim holds: each result
 * lands only under the claim that produced it.
 */
const claimOwner = (worker: string): string => `${worker}/${randomUUID().slice(0, 8)}`;

async function processBatch(
  env: WorkerEnv,
  owner: string,
  p: Processor,
  ctx: ProcessorContext,
  tasks: Task[],
  leaseMs: number,
): Promise<Map<number, TaskOutcome>> {
  const ids = tasks.map((t) => t.id);
  const beat = setInterval(
    () => {
      env.store.tasks
        .heartbeat(ids, owner, leaseMs)
        .catch((e: unknown) => env.log.warn({ err: e }, "lease heartbeat failed"));
    },
    Math.max(1000, leaseMs / 3),
  );
  beat.unref?.();
  try {
    // The outer deadline: a processor that hangs can never hold the pass (nor this worker).
    return await processWithDeadline(p, ctx, tasks);
  } catch (e) {
    ctx.log.error({ err: e, type: p.type, tasks: ids }, "batch failed");
    return new Map(tasks.map((t) => [t.id, { status: "failed", error: errText(e) }]));
  } finally {
    clearInterval(beat);
  }
}

/**
 * Records a batch's outcomes: the done and skipped tasks completed together (one statement on
 * PostgreSQL, one transaction on SQLite), then each retry and failure.
 */
async function applyOutcomes(
  env: WorkerEnv,
  owner: string,
  settled: [Task, TaskOutcome][],
): Promise<void> {
  const tasks = env.store.tasks;
  const done: Completion[] = [];
  for (const [t, o] of settled) {
    if (o.status === "done") done.push({ id: t.id, result: o.result ?? null });
    else if (o.status === "skipped") done.push({ id: t.id, result: { skipped: o.reason } });
  }
  await tasks.completeMany(done, owner);
  for (const [t, o] of settled) {
    if (o.status === "retry") await tasks.fail(t.id, owner, o.reason, { retryAt: o.at });
    else if (o.status === "failed")
      await tasks.fail(t.id, owner, o.error, { permanent: o.permanent ?? false });
  }
}

const detailOf = (o: TaskOutcome): string | undefined =>
  o.status === "retry"
    ? o.reason
    : o.status === "failed"
      ? o.error
      : o.status === "skipped"
        ? o.reason
        : undefined;

import { z } from "zod";
import type { Logger } from "../log.js";
import { createProcessors } from "../processors/index.js";
import type { Usage } from "../core/domain.js";
import type { Task, TaskType } from "../core/domain.js";
import type { Store } from "../store/index.js";
import type { ClaimResponse, WireRecords } from "../core/wire.js";
import { RECORD_LIMITS as L, claimResponseSchema } from "../core/wire.js";
import type { RunSummary } from "./runner.js";
import type { RunOnceOptions } from "./standalone.js";
import { RunError, passAndSummarize, prepareRun, selectProcessors } from "./standalone.js";
import type { TaskOutcome } from "../core/worker-contract.js";
import { TYPES_BY_MODE } from "../core/worker-contract.js";
import { kindOf } from "../core/task-kinds.js";
import { errText } from "../util/errors.js";

/** The app did not answer (network error, timeout, 5xx): the Action may fall back to standalone. */
export class AppUnreachableError extends RunError {
  constructor(message: string) {
    super(message);
    this.name = "AppUnreachableError";
  }
}

export interface ConnectedOptions extends RunOnceOptions {
  /** The app's public URL, e.g. https://bg.example.com */
  appUrl: string;
  /** The runner's GitHub Actions OIDC token (core.getIDToken(audience)). */
  idToken: () => Promise<string>;
  fetch?: typeof fetch;
  /** Tells several workers of one workflow run apart (a matrix job index). */
  worker?: string;
  leaseSeconds?: number;
  limit?: number;
  timeoutMs?: number;
}

const completeResponseSchema = z.object({
  results: z.array(z.object({ taskId: z.number(), applied: z.boolean(), status: z.string() })),
  /** The app took the results but not the runner's records (runs, analyses): why. */
  recordsError: z.string().optional(),
});

type WireResult = {
  taskId: number;
  status: TaskOutcome["status"];
  result?: unknown;
  error?: string;
  retryAt?: number;
  permanent?: boolean;
  usage?: Usage;
};

/** A token is replaced when it has less than this left. */
const TOKEN_REFRESH_MS = 60_000;

/** When a JWT expires (its unverified `exp`), in ms; Infinity when it says nothing. */
function expiresAt(jwt: string): number {
  try {
    const payload = JSON.parse(
      Buffer.from(jwt.split(".")[1] ?? "", "base64url").toString("utf8"),
    ) as { exp?: unknown };
    return typeof payload.exp === "number" ? payload.exp * 1000 : Infinity;
  } catch {
    return Infinity;
  }
}

/** One HTTP client for the worker API: JSON in and out, with clear errors. */
function apiClient(o: ConnectedOptions) {
  const doFetch = o.fetch ?? ((...a: Parameters<typeof fetch>) => globalThis.fetch(...a));
  const base = o.appUrl.replace(/\/+$/, "");
  let token: string | null = null;
  const send = async (path: string, body: unknown): Promise<Response> => {
    // A token about to expire is replaced before it is sent: the app audits expired tokens.
    if (token !== null && expiresAt(token) - Date.now() < TOKEN_REFRESH_MS) token = null;
    token ??= await o.idToken().catch((e: unknown) => {
      throw new RunError(
        `Could not get the runner's OIDC token for connected mode (${errText(e)}): give the job \`permissions: id-token: write\`.`,
      );
    });
    try {
      return await doFetch(`${base}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(o.timeoutMs ?? 20_000),
      });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new AppUnreachableError(
        `The bg-agent app at ${base} did not answer (${cause?.code ?? cause?.message ?? errText(e)}): check app-url, or set fallback: standalone.`,
      );
    }
  };
  return async function call<T>(path: string, body: unknown, schema: z.ZodType<T>): Promise<T> {
    let res = await send(path, body);
    if (res.status === 401) {
      // OIDC tokens are short-lived and a run can outlast one: a 401 did nothing, so ask the
      // runner for a fresh token and send the call again, once.
      await res.text().catch(() => "");
      token = null;
      res = await send(path, body);
    }
    const text = await res.text();
    if (res.status >= 500) {
      throw new AppUnreachableError(
        `The bg-agent app at ${base} answered ${res.status} on ${path}: ${text.slice(0, 200)}`,
      );
    }
    let json: unknown;
    try {
      json = JSON.parse(text) as unknown;
    } catch {
      throw new AppUnreachableError(
        `The bg-agent app at ${base} answered ${path} with something that is not JSON (is app-url right?)`,
      );
    }
    if (!res.ok) {
      const msg =
        typeof json === "object" && json && "error" in json
          ? String((json as { error: unknown }).error)
          : text.slice(0, 200);
      throw new RunError(`The bg-agent app refused ${path} (${res.status}): ${msg}`);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success)
      throw new RunError(
        `The bg-agent app's answer to ${path} is not what this Action expects: upgrade one of them.`,
      );
    return parsed.data;
  };
}

const minus = (a: Usage, b: Usage): Usage => ({
  promptTokens: a.promptTokens - b.promptTokens,
  cachedTokens: a.cachedTokens - b.cachedTokens,
  completionTokens: a.completionTokens - b.completionTokens,
  costUsd: Math.max(0, a.costUsd - b.costUsd),
});

/**
 * Connected mode: the runner asks the app for work instead of sweeping GitHub itself. It claims
 * leased tasks of its own repository, runs them through the same pass in a local in-memory store,
 * keeps the leases alive while a batch runs, and completes each batch with the app (which records
 * the spend, and keeps the batches, runs and analyses the processors recorded locally). Tasks it could not finish go back to the app's queue, so nothing is lost.
 */
export async function runConnected(o: ConnectedOptions): Promise<RunSummary> {
  const call = apiClient(o);
  const run = await prepareRun(o, "connected");
  try {
    return await connectedPass(o, run, call);
  } finally {
    await run.store.close();
  }
}

type Prepared = Awaited<ReturnType<typeof prepareRun>>;
type Call = ReturnType<typeof apiClient>;

/** One connected run: claim, adopt the app's state, copy the tasks, run the pass, hand back the rest. */
async function connectedPass(o: ConnectedOptions, run: Prepared, call: Call): Promise<RunSummary> {
  const now = o.now ?? Date.now;
  const { store, summary } = run;
  const log = o.log.child({ repo: o.repo, app: o.appUrl });
  const all = o.processors ?? createProcessors();
  const claimed = await claimWork(o, call, all);
  log.info({ tasks: claimed.tasks.length, owner: claimed.owner }, "claimed tasks from the app");
  await adoptAppState(o, run, claimed);
  const remoteIds = await copyClaimedTasks(o, store, claimed, now());
  const reported = new Set<number>();
  const complete = completer(o, call, summary, log, reported);

  const beat = heartbeat(o, call, log);
  let usageBefore: Usage = { ...run.meter.totals };
  let recordedBefore = await recordMarks(store);
  await passAndSummarize(run, selectProcessors(o, run, all), {
    repo: o.repo,
    mode: o.mode,
    sweep: false,
    hooks: {
      before: async (_p, tasks: Task[]) => {
        usageBefore = { ...run.meter.totals };
        recordedBefore = await recordMarks(store);
        beat.start(tasks.flatMap((t) => remoteIds.get(t.id) ?? []));
      },
      after: async (_p, tasks: Task[], outcomes: Map<number, TaskOutcome>) => {
        beat.stop();
        // The batch's spend rides on its first result, so the app records it once.
        let usage: Usage | undefined = minus(run.meter.totals, usageBefore);
        const results: WireResult[] = [];
        for (const t of tasks) {
          const outcome = outcomes.get(t.id) ?? {
            status: "failed" as const,
            error: "the processor returned no outcome",
          };
          for (const id of remoteIds.get(t.id) ?? []) {
            results.push(wireResult(o, now(), id, outcome, usage));
            usage = undefined;
          }
        }
        await complete(results, await recordsSince(store, recordedBefore, remoteIds));
      },
    },
  });
  beat.stop();

  const handedBack = await handBackLeftovers(summary, remoteIds, reported, complete, now());
  summary.finishedAt = now();
  summary.notes.push(
    `Connected to ${o.appUrl.replace(/\/+$/, "")}: ${claimed.tasks.length} task(s) claimed${handedBack ? `, ${handedBack} handed back` : ""}.`,
  );
  if (o.dryRun)
    summary.notes.push(
      "Dry run: nothing was written to GitHub or Linear; the claimed tasks went back to the app's queue.",
    );
  await store.close();
  return summary;
}

/** Leases this run's share of the repository's due tasks (the types its mode and processors handle). */
async function claimWork(
  o: ConnectedOptions,
  call: Call,
  all: readonly { type: TaskType }[],
): Promise<ClaimResponse> {
  const modeTypes = TYPES_BY_MODE[o.mode];
  const types = [...new Set(all.map((p) => p.type))].filter(
    (t) => modeTypes.includes(t) && !kindOf(t).appOnly,
  );
  return call(
    "/bg/api/worker/claim",
    {
      types: types.length ? types : ["command"],
      limit: o.limit ?? 50,
      leaseSeconds: o.leaseSeconds ?? 600,
      ...(o.worker ? { worker: o.worker } : {}),
    },
    claimResponseSchema,
  );
}

/** The app's state this runner needs: activity and pause for the local pause rules, the remaining budget. */
async function adoptAppState(
  o: ConnectedOptions,
  run: Prepared,
  claimed: ClaimResponse,
): Promise<void> {
  const { store, summary } = run;
  if (claimed.activity.lastHumanAt && claimed.activity.lastHumanLogin) {
    await store.activity.recordHuman(
      o.repo,
      claimed.activity.lastHumanLogin,
      claimed.activity.lastHumanAt,
    );
  }
  if (claimed.paused)
    await store.activity.pause(
      o.repo,
      claimed.paused.by,
      claimed.paused.until,
      claimed.paused.reason,
    );
  const b = claimed.budget;
  summary.budget = {
    ...summary.budget,
    dailyUsd: b.dailyUsd,
    monthlyUsd: b.monthlyUsd,
    spentTodayUsd: b.spentTodayUsd,
    spentMonthUsd: b.spentMonthUsd,
  };
  if (b.remainingUsd <= 0) {
    run.stopLlm.reason = `The repository's budget is spent (today $${b.spentTodayUsd.toFixed(4)} of $${b.dailyUsd.toFixed(2)}, this month $${b.spentMonthUsd.toFixed(4)} of $${b.monthlyUsd.toFixed(2)}).`;
    summary.budget.stopped = run.stopLlm.reason;
  }
  run.env.runCapUsd = Math.min(run.env.runCapUsd ?? Infinity, b.remainingUsd);
}

/** Local copies of the claimed tasks; a local id may stand for two remote ones (a follow-up of the same item). */
async function copyClaimedTasks(
  o: ConnectedOptions,
  store: Store,
  claimed: ClaimResponse,
  t: number,
): Promise<Map<number, number[]>> {
  const remoteIds = new Map<number, number[]>();
  for (const c of claimed.tasks) {
    const r = await store.tasks.enqueue(
      {
        repo: o.repo,
        type: c.type,
        source: c.source,
        payload: c.payload,
        contentHash: c.contentHash,
        priority: c.priority,
        maxAttempts: c.maxAttempts,
      },
      t,
    );
    remoteIds.set(r.task.id, [...(remoteIds.get(r.task.id) ?? []), c.id]);
  }
  return remoteIds;
}

/** Reports results (and the batch's records) to the app, once more on failure; notes what it took. */
function completer(
  o: ConnectedOptions,
  call: Call,
  summary: RunSummary,
  log: Logger,
  reported: Set<number>,
): (results: WireResult[], records?: WireRecords) => Promise<void> {
  return async (results, records) => {
    if (!results.length) return;
    const body = {
      results,
      ...(records && !o.dryRun ? { records } : {}),
      ...(o.worker ? { worker: o.worker } : {}),
    };
    let res: z.infer<typeof completeResponseSchema>;
    try {
      res = await call("/bg/api/worker/complete", body, completeResponseSchema);
    } catch (e) {
      // Once more: completing twice is harmless on the app's side.
      log.warn({ err: e }, "completing tasks failed; trying once more");
      res = await call("/bg/api/worker/complete", body, completeResponseSchema).catch(
        (e2: unknown) => {
          summary.errors.push(
            `Could not report ${results.length} task(s) to the app: ${errText(e2)}. Their leases expire and they run again.`,
          );
          return { results: [] };
        },
      );
    }
    if (res.recordsError) {
      log.warn({ error: res.recordsError }, "the app did not keep this batch's records");
      summary.notes.push(`The app did not keep some of this run's records: ${res.recordsError}.`);
    }
    for (const r of res.results) {
      reported.add(r.taskId);
      if (!r.applied)
        log.warn(
          { task: r.taskId, status: r.status },
          "the app did not take this result (lease lost or already done)",
        );
    }
  };
}

/** A task's outcome as the app takes it; a dry run hands every task back untouched. */
function wireResult(
  o: ConnectedOptions,
  t: number,
  remoteId: number,
  outcome: TaskOutcome,
  usage?: Usage,
): WireResult {
  const u =
    usage && usage.costUsd + usage.promptTokens + usage.completionTokens > 0 ? { usage } : {};
  if (o.dryRun)
    return {
      taskId: remoteId,
      status: "retry",
      retryAt: t,
      error: "dry run: nothing was done",
      ...u,
    };
  switch (outcome.status) {
    case "done":
      return { taskId: remoteId, status: "done", result: outcome.result ?? null, ...u };
    case "skipped":
      return { taskId: remoteId, status: "skipped", error: outcome.reason, ...u };
    case "retry":
      return {
        taskId: remoteId,
        status: "retry",
        retryAt: outcome.at,
        error: outcome.reason,
        ...u,
      };
    case "failed":
      return {
        taskId: remoteId,
        status: "failed",
        error: outcome.error,
        permanent: outcome.permanent ?? false,
        ...u,
      };
  }
}

/** Keeps a batch's leases alive with the app while it runs (a third of the lease apart). */
function heartbeat(
  o: ConnectedOptions,
  call: Call,
  log: Logger,
): { start(ids: number[]): void; stop(): void } {
  const leaseSeconds = o.leaseSeconds ?? 600;
  let beat: ReturnType<typeof setInterval> | undefined;
  return {
    start(ids) {
      beat = setInterval(
        () => {
          call(
            "/bg/api/worker/heartbeat",
            { taskIds: ids, leaseSeconds, ...(o.worker ? { worker: o.worker } : {}) },
            z.object({ extended: z.number() }),
          ).catch((e: unknown) => log.warn({ err: e }, "heartbeat failed"));
        },
        Math.max(5_000, (leaseSeconds * 1000) / 3),
      );
      beat.unref?.();
    },
    stop: () => clearInterval(beat),
  };
}

/** Whatever was claimed but not processed (paused, people active, no LLM) goes back to the app's queue. */
async function handBackLeftovers(
  summary: RunSummary,
  remoteIds: Map<number, number[]>,
  reported: Set<number>,
  complete: (results: WireResult[]) => Promise<void>,
  t: number,
): Promise<number> {
  const leftover = [...remoteIds.values()].flat().filter((id) => !reported.has(id));
  if (leftover.length) {
    const why = summary.skipped.map((s) => s.reason)[0] ?? "not processed in this run";
    await complete(
      leftover.map((id) => ({
        taskId: id,
        status: "retry" as const,
        retryAt: t + 60_000,
        error: why,
      })),
    );
  }
  return leftover.length;
}

interface RecordMarks {
  runId: number;
  batchId: number;
  /** Each analysis in the local store, by key, with when it was saved. */
  analyses: Map<string, number>;
}

/** The runner's store is small (one run's work): a snapshot of its analyses is cheap. */
const recordMarks = async (store: Store): Promise<RecordMarks> => ({
  runId: await store.runs.lastId(),
  batchId: await store.batches.lastId(),
  analyses: new Map(
    (await store.analyses.list(undefined, 10_000)).map((a) => [a.key, a.analysedAt]),
  ),
});

const clip = (s: string | null, max: number): string | null =>
  s === null || s.length <= max ? s : `${s.slice(0, max - 1)}…`;
const httpUrl = (u: string | null): string | null =>
  u !== null && /^https?:\/\//i.test(u) && u.length <= L.url ? u : null;

/** What the processors recorded in the local store since `m`, for the app (ids mapped to its tasks). */
async function recordsSince(
  store: Store,
  m: RecordMarks,
  remoteIds: Map<number, number[]>,
): Promise<WireRecords | undefined> {
  const usage = (u: Usage): Usage => ({
    promptTokens: u.promptTokens,
    cachedTokens: u.cachedTokens,
    completionTokens: u.completionTokens,
    costUsd: u.costUsd,
  });
  const batches = (await store.batches.after(m.batchId, L.batches)).map((b) => ({
    localId: b.id,
    type: clip(b.type, L.type) ?? "",
    provider: clip(b.provider, L.provider),
    model: clip(b.model, L.model),
    status: clip(b.status, L.status) ?? "",
    items: b.items,
    ...usage(b),
    error: clip(b.error, L.message),
    startedAt: b.startedAt,
    finishedAt: b.finishedAt,
  }));
  const runs = (await store.runs.after(m.runId, L.runs)).map((r) => ({
    kind: r.kind,
    ref: clip(r.ref, L.ref),
    url: httpUrl(r.url),
    taskId: r.taskId === null ? null : (remoteIds.get(r.taskId)?.[0] ?? null),
    localBatchId: r.batchId,
    status: r.status,
    summary: clip(r.summary, L.message),
    error: clip(r.error, L.message),
    ...usage(r),
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
  }));
  const analyses = (await store.analyses.list(undefined, 10_000))
    .filter((a) => m.analyses.get(a.key) !== a.analysedAt)
    .slice(0, L.analyses)
    .map((a) => ({
      key: a.key,
      source: a.source,
      contentHash: a.contentHash,
      shouldFix: a.shouldFix,
      complexity: a.complexity,
      plan: clip(a.plan, L.plan) ?? "",
      affectedFiles: a.affectedFiles.slice(0, L.files).map((f) => clip(f, L.file) ?? ""),
      localBatchId: a.batchId,
      analysedAt: a.analysedAt,
      commentUrl: httpUrl(a.commentUrl),
    }));
  return batches.length || runs.length || analyses.length ? { batches, runs, analyses } : undefined;
}

export type { TaskType };

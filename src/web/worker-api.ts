import type { IncomingMessage, ServerResponse } from "node:http";
import type { JWTVerifyGetKey } from "jose";
import { createRemoteJWKSet, errors as joseErrors, jwtVerify } from "jose";
import { z } from "zod";
import { defaultConfig, parseConfig } from "../config/load.js";
import type { RepoConfig } from "../config/schema.js";
import type { Logger } from "../log.js";
import type { Store } from "../store/index.js";
import type { Task } from "../core/domain.js";
import { TASK_TYPES } from "../core/task-kinds.js";
import type { ClaimResponse, WireTask } from "../core/wire.js";
import {
  claimBodySchema,
  completeBodySchema,
  heartbeatBodySchema,
  recordsSchema,
} from "../core/wire.js";
import type { Route } from "./http.js";
import { BodyTooLargeError, readJson, sendError, sendJson } from "./http.js";
import type { ProvenanceClaims } from "./runner-provenance.js";
import { checkProvenance, provenanceClaimsSchema } from "./runner-provenance.js";
import { errText } from "../util/errors.js";
import type { CappedSpend } from "./worker-results.js";
import { applyResults } from "./worker-results.js";

export const GITHUB_OIDC_ISSUER = "https://token.actions.githubusercontent.com";
export const GITHUB_OIDC_JWKS = new URL(
  "https://token.actions.githubusercontent.com/.well-known/jwks",
);
/** The audience runners ask for (`core.getIDToken("bg-agent")`) unless configured otherwise. */
export const DEFAULT_AUDIENCE = "bg-agent";

export interface WorkerApiDeps {
  store: Store;
  log: Logger;
  /** GitHub's JWKS by default; tests serve their own (a URL) or hand a key set. */
  jwks?: URL | JWTVerifyGetKey;
  audience?: string | string[];
  issuer?: string;
  now?: () => number;
  /** The clock tokens' `exp` is checked against (tests); real time by default. */
  tokenClock?: () => number;
}

/** The claims bg-agent relies on in a GitHub Actions OIDC token. */
const claimsSchema = provenanceClaimsSchema.extend({
  repository: z.string().regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/),
  run_id: z.string().regex(/^\d+$/),
  run_attempt: z.string().regex(/^\d+$/).optional(),
  actor: z.string().optional(),
});
type RunnerClaims = z.infer<typeof claimsSchema>;

const toWire = (t: Task): WireTask => ({
  id: t.id,
  repo: t.repo,
  type: t.type,
  source: t.source,
  payload: t.payload,
  contentHash: t.contentHash,
  priority: t.priority,
  attempts: t.attempts,
  maxAttempts: t.maxAttempts,
});

/** A lease owner per workflow run (and attempt), plus the runner's own worker id for several in one run. */
export const ownerOf = (c: RunnerClaims, w: string | undefined): string =>
  `gha:${c.repository.toLowerCase()}:${c.run_id}:${c.run_attempt ?? "1"}${w ? `/${w}` : ""}`;

class AuthError extends Error {
  /** Claims of a token GitHub did sign but that is no longer valid (expired): audited. */
  constructor(
    message: string,
    readonly signed?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** What the audit keeps of a runner's token: where the run came from. */
const provenanceOf = (c: Partial<ProvenanceClaims> & Record<string, unknown>): string =>
  JSON.stringify(
    Object.fromEntries(
      [
        "repository",
        "repository_id",
        "ref",
        "workflow_ref",
        "job_workflow_ref",
        "event_name",
        "run_id",
        "run_attempt",
        "actor",
      ].map((k) => [k, typeof c[k] === "string" ? String(c[k]).slice(0, 300) : null]),
    ),
  );

/** What the endpoints share: the deps, the clock and the OIDC verification settings. */
interface WorkerApiContext {
  deps: WorkerApiDeps;
  now: () => number;
  jwks: JWTVerifyGetKey;
  issuer: string;
  audience: string | string[];
}

/** A runner let in by `endpoint`: who it is, its logger, and where to answer. */
interface Admitted {
  ctx: WorkerApiContext;
  claims: RunnerClaims;
  res: ServerResponse;
  log: Logger;
}

/**
 * The worker API that runners in connected mode call: claim tasks with a lease, extend the lease,
 * and complete them. A runner proves who it is with its GitHub Actions OIDC token, verified against
 * GitHub's JWKS; the token's `repository` claim is the only repository it may claim or complete
 * tasks of.
 */
export function createWorkerApiRoutes(deps: WorkerApiDeps): Route[] {
  const ctx: WorkerApiContext = {
    deps,
    now: deps.now ?? Date.now,
    jwks:
      deps.jwks instanceof URL || deps.jwks === undefined
        ? createRemoteJWKSet(deps.jwks ?? GITHUB_OIDC_JWKS)
        : deps.jwks,
    issuer: deps.issuer ?? GITHUB_OIDC_ISSUER,
    audience: deps.audience ?? DEFAULT_AUDIENCE,
  };
  return [
    endpoint(ctx, "/bg/api/worker/claim", claimBodySchema, claimTasks),
    endpoint(ctx, "/bg/api/worker/complete", completeBodySchema, completeTasks),
    endpoint(ctx, "/bg/api/worker/heartbeat", heartbeatBodySchema, extendLeases),
  ];
}

async function authenticate(ctx: WorkerApiContext, req: IncomingMessage): Promise<RunnerClaims> {
  const { deps } = ctx;
  const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "");
  if (!m)
    throw new AuthError(
      "missing Authorization: Bearer <GitHub Actions OIDC token> (the job needs `permissions: id-token: write`)",
    );
  try {
    const { payload } = await jwtVerify(m[1]!, ctx.jwks, {
      issuer: ctx.issuer,
      audience: ctx.audience,
      algorithms: ["RS256"],
      clockTolerance: 60,
      ...(deps.tokenClock ? { currentDate: new Date(deps.tokenClock()) } : {}),
    });
    const claims = claimsSchema.safeParse(payload);
    if (!claims.success)
      throw new AuthError(
        "the token has no repository or run_id claim: is it a GitHub Actions OIDC token?",
      );
    return claims.data;
  } catch (e) {
    if (e instanceof AuthError) throw e;
    const why = e instanceof joseErrors.JOSEError ? e.code : "unverifiable";
    // An expired token passed the signature check: GitHub issued it, someone replays it late.
    const signed =
      e instanceof joseErrors.JWTExpired ? (e.payload as Record<string, unknown>) : undefined;
    throw new AuthError(`the OIDC token was refused (${why}): ${errText(e)}`, signed);
  }
}

/** The repository must be one the app is installed on. */
async function installed({ deps }: WorkerApiContext, repo: string): Promise<boolean> {
  const r = await deps.store.repos.get(repo);
  return !!r && r.installed;
}

/** The repository's cached config (the defaults when it has none or it is invalid). */
async function configOf({ deps }: WorkerApiContext, repo: string): Promise<RepoConfig> {
  const r = await deps.store.repos.get(repo);
  if (r?.configJson && r.configValid) {
    const parsed = parseConfig(JSON.parse(r.configJson) as unknown);
    if (parsed.ok) return parsed.config;
  }
  return defaultConfig();
}

/**
 * Audits a refused runner of an installed repository, once per run attempt, endpoint and
 * failed claim (a runner retrying in a loop does not fill the audit table). Tokens of
 * repositories bg-agent is not installed on are only logged: anyone can mint those.
 */
async function auditRefusal(
  { deps, now }: WorkerApiContext,
  claims: Partial<ProvenanceClaims> & Record<string, unknown>,
  path: string,
  claim: string,
  message: string,
): Promise<void> {
  const repository = typeof claims.repository === "string" ? claims.repository : "";
  const row = repository ? await deps.store.repos.get(repository) : undefined;
  if (!row) return;
  const run = `${String(claims.run_id ?? "?")}:${String(claims.run_attempt ?? "1")}`;
  const source = `worker-api:${row.fullName.toLowerCase()}:${run}:${path}:${claim}`.slice(0, 300);
  if (await deps.store.audit.bySource(source)) return;
  await deps.store.audit.write({
    at: now(),
    actor: `gha:${typeof claims.actor === "string" ? claims.actor : "?"}`,
    repo: row.fullName,
    target: path,
    command: "worker-refused",
    args: provenanceOf(claims),
    result: `refused (${claim}): ${message}`.slice(0, 2000),
    deliveryId: null,
    source,
  });
}

/** The repository's budget and what is left of it today and this month. */
async function budgetOf(ctx: WorkerApiContext, repo: string) {
  const { deps, now } = ctx;
  const cfg = await configOf(ctx, repo);
  const t = now();
  const spentToday = await deps.store.spend.today(repo, t);
  const spentMonth = await deps.store.spend.month(repo, t);
  return {
    dailyUsd: cfg.budget.daily_usd,
    monthlyUsd: cfg.budget.monthly_usd,
    spentTodayUsd: spentToday,
    spentMonthUsd: spentMonth,
    remainingUsd: Math.max(
      0,
      Math.min(cfg.budget.daily_usd - spentToday, cfg.budget.monthly_usd - spentMonth),
    ),
  };
}

/**
 * A worker API endpoint: POST only, the runner's OIDC token verified (401), the repository
 * installed and the run the configured workflow (403, audited), the body valid (400, 413); then
 * `fn` with the token's claims.
 */
const endpoint =
  <S extends z.ZodType>(
    ctx: WorkerApiContext,
    path: string,
    schema: S,
    fn: (admitted: Admitted, body: z.infer<S>) => Promise<true>,
  ): Route =>
  async (req, res, url) => {
    const { deps } = ctx;
    if (url.pathname !== path) return false;
    if (req.method !== "POST") return sendJson(res, 405, { error: "use POST" }, { allow: "POST" });
    let claims: RunnerClaims;
    try {
      claims = await authenticate(ctx, req);
    } catch (e) {
      if (e instanceof AuthError && e.signed) {
        await auditRefusal(ctx, e.signed, path, "exp", e.message);
        deps.log.warn({ path, error: e.message }, "refused an expired runner token");
      }
      return sendJson(
        res,
        401,
        { error: errText(e) },
        { "www-authenticate": 'Bearer realm="bg-agent"' },
      );
    }
    const log = deps.log.child({ repo: claims.repository, run: claims.run_id });
    if (!(await installed(ctx, claims.repository))) {
      return sendError(
        res,
        403,
        `bg-agent is not installed on ${claims.repository}: install the app there, or run the Action without app-url`,
      );
    }
    const row = await deps.store.repos.get(claims.repository);
    const verdict = row
      ? checkProvenance(claims, row, (await configOf(ctx, claims.repository)).worker)
      : ({ ok: false, claim: "repository", message: "unknown repository" } as const);
    if (!verdict.ok) {
      await auditRefusal(ctx, claims, path, verdict.claim, verdict.message);
      log.warn(
        { claim: verdict.claim, provenance: provenanceOf(claims) },
        "refused a runner that is not the configured workflow",
      );
      return sendError(
        res,
        403,
        `this run may not work for bg-agent on ${claims.repository}: ${verdict.message}`,
      );
    }
    let raw: unknown;
    try {
      raw = await readJson(req, 2_000_000);
    } catch (e) {
      return sendError(res, e instanceof BodyTooLargeError ? 413 : 400, errText(e));
    }
    const body = schema.safeParse(raw ?? {});
    if (!body.success) {
      const first = body.error.issues[0];
      return sendError(
        res,
        400,
        `invalid body: ${first ? `${first.path.join(".") || "(root)"}: ${first.message}` : "?"}`,
      );
    }
    return fn({ ctx, claims, res, log }, body.data);
  };

/** `POST /bg/api/worker/claim`: due tasks of the token's repository, leased to this runner. */
async function claimTasks(
  { ctx, claims, res, log }: Admitted,
  body: z.infer<typeof claimBodySchema>,
): Promise<true> {
  const { deps, now } = ctx;
  const repo = claims.repository;
  const owner = ownerOf(claims, body.worker);
  const t = now();
  const pause = await deps.store.activity.manualPause(repo, t);
  // While paused by hand only commands are handed out (they are how people resume).
  const types = pause ? (body.types ?? TASK_TYPES).filter((x) => x === "command") : body.types;
  const tasks =
    types && types.length === 0
      ? []
      : await deps.store.tasks.claim({
          owner,
          leaseMs: body.leaseSeconds * 1000,
          limit: body.limit,
          repo,
          ...(types ? { types } : {}),
          now: t,
        });
  const activity = await deps.store.activity.get(repo);
  log.info({ owner, claimed: tasks.length }, "runner claimed tasks");
  const response: ClaimResponse = {
    owner,
    leaseSeconds: body.leaseSeconds,
    tasks: tasks.map(toWire),
    budget: await budgetOf(ctx, repo),
    activity: { lastHumanAt: activity.lastHumanAt, lastHumanLogin: activity.lastHumanLogin },
    paused: pause
      ? { by: pause.pausedBy ?? "an admin", until: pause.pausedUntil, reason: pause.pausedReason }
      : null,
  };
  return sendJson(res, 200, response);
}

/**
 * `POST /bg/api/worker/complete`: the runner's results, applied only while it holds the leases;
 * its spend capped at what the budget had left; its records kept alongside.
 */
async function completeTasks(
  { ctx, claims, res, log }: Admitted,
  body: z.infer<typeof completeBodySchema>,
): Promise<true> {
  const { deps, now } = ctx;
  const owner = ownerOf(claims, body.worker);
  const repo = claims.repository.toLowerCase();
  const store = deps.store;
  // One read for all of them, whatever their number.
  const tasks = new Map<number, Task>(
    (await store.tasks.getMany([...new Set(body.results.map((r) => r.taskId))])).map((t) => [
      t.id,
      t,
    ]),
  );
  const foreign = [...tasks.entries()]
    .filter(([, t]) => t.repo.toLowerCase() !== repo)
    .map(([id]) => id);
  if (foreign.length) {
    log.warn({ owner, foreign }, "runner tried to complete tasks of another repository");
    return sendError(
      res,
      403,
      `tasks ${foreign.join(", ")} belong to another repository than ${claims.repository}`,
    );
  }
  const t = now();
  // No report may take the repository past its budget: the runner checked the remaining
  // budget (from its claim) before each LLM call, so an honest run never reports more.
  const allowance = { usd: (await budgetOf(ctx, claims.repository)).remainingUsd };
  const capped: CappedSpend[] = [];
  // Through the transaction's handle: a call on `store` itself would wait for the tx to end.
  const results = await store.tx((tx) =>
    applyResults(tx, owner, body.results, tasks, allowance, capped, t),
  );
  if (capped.length) await auditCappedSpend({ ctx, claims, res, log }, owner, capped, t);
  // Records are taken only alongside results the app took: from the runner holding the leases.
  const taken = new Set(results.filter((r) => r.applied).map((r) => r.taskId));
  let kept: Awaited<ReturnType<typeof keepRecords>> | null = null;
  let recordsError: string | undefined;
  if (body.records !== undefined && taken.size) {
    const records = recordsSchema.safeParse(body.records);
    if (records.success) kept = await keepRecords(ctx, claims.repository, records.data, taken, t);
    else {
      const first = records.error.issues[0];
      recordsError = `records not kept: ${first ? `${first.path.join(".")}: ${first.message}` : "invalid"}`;
      log.warn({ owner, error: recordsError }, "runner sent records the app cannot keep");
    }
  }
  log.info(
    { owner, applied: taken.size, ...(kept ? { records: kept } : {}) },
    "runner completed tasks",
  );
  return sendJson(res, 200, {
    results,
    ...(kept ? { records: kept } : {}),
    ...(recordsError ? { recordsError } : {}),
    ...(capped.length ? { spendCapped: capped } : {}),
    budget: await budgetOf(ctx, claims.repository),
  });
}

/** Audits (and logs) a run that reported more spend than the budget had left. */
async function auditCappedSpend(
  { ctx, claims, log }: Admitted,
  owner: string,
  capped: CappedSpend[],
  t: number,
): Promise<void> {
  const store = ctx.deps.store;
  const reported = capped.reduce((a, c) => a + c.reportedUsd, 0);
  const recorded = capped.reduce((a, c) => a + c.recordedUsd, 0);
  await store.audit.write({
    at: t,
    actor: `gha:${claims.actor ?? "?"}`,
    repo: (await store.repos.get(claims.repository))?.fullName ?? claims.repository,
    target: capped
      .map((c) => `task:${c.taskId}`)
      .join(",")
      .slice(0, 300),
    command: "worker-spend-capped",
    args: JSON.stringify({ owner, capped }),
    result: `capped: the run reported $${reported.toFixed(4)}, more than the budget had left; recorded $${recorded.toFixed(4)}`,
    deliveryId: null,
  });
  log.warn({ owner, capped }, "runner reported more spend than the budget had left: capped");
}

/** Stores a runner's records under its repository; returns how many of each were kept. */
async function keepRecords(
  { deps }: WorkerApiContext,
  repository: string,
  records: z.infer<typeof recordsSchema>,
  taken: Set<number>,
  t: number,
): Promise<{ batches: number; runs: number; analyses: number }> {
  const store = deps.store;
  const repo = (await store.repos.get(repository))?.fullName ?? repository;
  const own = (key: string) => key.toLowerCase().startsWith(`${repo.toLowerCase()}#`);
  return await store.tx(async (txs) => {
    const batchIds = new Map<number, number>();
    for (const b of records.batches) {
      const { localId, ...rest } = b;
      batchIds.set(localId, await txs.batches.record({ ...rest, repo }));
    }
    const batchOf = (local: number | null) =>
      local === null ? null : (batchIds.get(local) ?? null);
    for (const r of records.runs) {
      await txs.runs.record(
        {
          repo,
          kind: r.kind,
          ref: r.ref,
          url: r.url,
          // Only a task this runner completed now; anything else is not the runner's to name.
          taskId: r.taskId !== null && taken.has(r.taskId) ? r.taskId : null,
          batchId: batchOf(r.localBatchId),
          status: r.status,
          summary: r.summary,
          error: r.error,
          usage: {
            promptTokens: r.promptTokens,
            cachedTokens: r.cachedTokens,
            completionTokens: r.completionTokens,
            costUsd: r.costUsd,
          },
          startedAt: Math.min(r.startedAt, t),
          finishedAt: r.finishedAt === null ? null : Math.min(r.finishedAt, t),
        },
        t,
      );
    }
    let analyses = 0;
    for (const a of records.analyses) {
      // A GitHub issue's key names its repository; a Linear key may not belong to another one.
      const existing = await txs.analyses.get(a.key);
      if (a.source === "github" ? !own(a.key) : existing && existing.repo !== repo) continue;
      const { localBatchId, ...analysis } = a;
      await txs.analyses.save({
        ...analysis,
        repo,
        batchId: batchOf(localBatchId),
        analysedAt: Math.min(a.analysedAt, t),
      });
      analyses++;
    }
    return { batches: batchIds.size, runs: records.runs.length, analyses };
  });
}

/** `POST /bg/api/worker/heartbeat`: extends this runner's leases. */
async function extendLeases(
  { ctx, claims, res }: Admitted,
  body: z.infer<typeof heartbeatBodySchema>,
): Promise<true> {
  const { deps, now } = ctx;
  const owner = ownerOf(claims, body.worker);
  const extended = await deps.store.tasks.heartbeat(
    body.taskIds,
    owner,
    body.leaseSeconds * 1000,
    now(),
  );
  return sendJson(res, 200, { extended });
}

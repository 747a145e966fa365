import type { IncomingMessage, ServerResponse } from "node:http";
import { z } from "zod";
import type { Logger } from "../log.js";
import type { Store } from "../store/index.js";
import { RUN_KINDS, TASK_TYPES } from "../core/task-kinds.js";
import { parseDuration } from "../util/duration.js";
import type { Route } from "./http.js";
import type { Principal } from "./auth.js";
import { authenticate, requireCsrf } from "./auth.js";
import { BodyTooLargeError, readBody, sendError, sendJson } from "./http.js";
import type { Sessions } from "./session.js";
import { buildSpend, buildStatus, cacheShare, clip, linkFor, runView } from "./status.js";
import { TASK_STATUSES } from "../core/domain.js";
import { errText } from "../util/errors.js";
import { TASK_NAME_RE } from "../commands/types.js";
import { pauseSchedule, resumeSchedule } from "../schedule/lifecycle.js";
import { enqueueManualRun } from "../schedule/manual.js";
import { listScheduleViews, scheduleView, taskRef } from "../schedule/view.js";

export interface AdminApiDeps {
  store: Store;
  /** BG_ADMIN_TOKEN; without it (and without GitHub sign-in) every endpoint answers 503. */
  adminToken?: string;
  /** GitHub sign-in sessions, when configured: a valid session cookie is accepted too. */
  sessions?: Sessions;
  /** The worker loop's wake (POST /bg/api/wake); absent when this process runs no worker. */
  wake?: () => Promise<unknown>;
  log: Logger;
  /** Web address of GitHub for derived links (GHE: https://ghe.example.com). */
  githubUrl?: string;
  /** Clock, for tests. */
  now?: () => number;
  /** How long POST /bg/api/wake waits for the pass before answering "accepted" (ms). */
  wakeWaitMs?: number;
}

const MAX_BODY = 16 * 1024;

const noControl = (s: string): boolean =>
  ![...s].some((c) => c.charCodeAt(0) < 32 || c.charCodeAt(0) === 127);
/** A repository filter: what the store may hold (names are shown as text, never as HTML). */
const repoFilter = z
  .string()
  .min(1)
  .max(200)
  .refine(noControl, "repo must not contain control characters");
/** A repository to pause: `owner/name` (or `*`, all repositories). */
const repoTarget = z
  .string()
  .max(200)
  .regex(/^(\*|[^/\s]+\/[^/\s]+)$/, 'repo must be "owner/name" (or "*" for all repositories)')
  .refine(noControl, "repo must not contain control characters");
const int = (min: number, max: number, what: string) =>
  z.coerce
    .number({ error: `${what} must be a number` })
    .int(`${what} must be a whole number`)
    .min(min, `${what} must be at least ${min}`)
    .max(max, `${what} must be at most ${max}`);

const tasksQuery = z
  .object({
    repo: repoFilter.optional(),
    status: z.enum(TASK_STATUSES).optional(),
    type: z.enum(TASK_TYPES).optional(),
    limit: int(1, 500, "limit").default(50),
    offset: int(0, 1_000_000, "offset").default(0),
  })
  .strict();
const taskName = z
  .string()
  .regex(TASK_NAME_RE, "task must be a task name: letters, digits, - _ . (at most 64)");
const runsQuery = z
  .object({
    repo: repoFilter.optional(),
    kind: z.enum(RUN_KINDS).optional(),
    /** A prompt task's runs (ref `task:<name>`). */
    task: taskName.optional(),
    limit: int(1, 500, "limit").default(50),
    before: int(1, Number.MAX_SAFE_INTEGER, "before").optional(),
  })
  .strict();
const batchesQuery = z
  .object({
    repo: repoFilter.optional(),
    limit: int(1, 500, "limit").default(20),
    before: int(1, Number.MAX_SAFE_INTEGER, "before").optional(),
  })
  .strict();
const auditQuery = z
  .object({
    repo: repoFilter.optional(),
    limit: int(1, 500, "limit").default(100),
    offset: int(0, 1_000_000, "offset").default(0),
  })
  .strict();
const spendQuery = z
  .object({ days: int(1, 366, "days").default(30), repo: repoFilter.optional() })
  .strict();
const schedulesQuery = z
  .object({
    repo: repoFilter.optional(),
    status: z
      .enum(["active", "paused", "failed", "done", "proposed"], {
        error: "status must be one of active, paused, failed, done, proposed",
      })
      .optional(),
  })
  .strict();
const repoOnlyQuery = z.object({ repo: repoFilter.optional() }).strict();
const emptyQuery = z.object({}).strict();

const pauseBody = z
  .object({
    repo: repoTarget.optional(),
    until: z.string().min(1).max(100).optional(),
    reason: z.string().max(500).optional(),
  })
  .strict();
const resumeBody = z.object({ repo: repoTarget.optional() }).strict();

class BadRequest extends Error {}

function describe(error: z.ZodError, where: string): string {
  return error.issues
    .map((i) => {
      const path = i.path.map(String).join(".");
      if (i.code === "unrecognized_keys")
        return `${where}: unknown ${i.keys.length > 1 ? "fields" : "field"} ${i.keys.join(", ")}`;
      return `${path ? `${where === "query" ? "" : `${where}.`}${path}` : where}: ${i.message}`;
    })
    .join("; ");
}

function parseQuery<T extends z.ZodType>(schema: T, url: URL): z.infer<T> {
  const raw: Record<string, string> = {};
  for (const [k, v] of url.searchParams) if (v !== "") raw[k] = v;
  const r = schema.safeParse(raw);
  if (!r.success) throw new BadRequest(describe(r.error, "query"));
  return r.data;
}

async function parseBody<T extends z.ZodType>(
  schema: T,
  req: IncomingMessage,
): Promise<z.infer<T>> {
  const buf = await readBody(req, MAX_BODY);
  let raw: unknown = {};
  if (buf.length > 0) {
    try {
      raw = JSON.parse(buf.toString("utf8")) as unknown;
    } catch {
      throw new BadRequest('body must be JSON, e.g. {"repo":"owner/name","until":"2h"}');
    }
  }
  const r = schema.safeParse(raw ?? {});
  if (!r.success) throw new BadRequest(describe(r.error, "body"));
  return r.data;
}

/** `until`: an ISO 8601 time or a duration from now (`30m`, `2h`, `1d`); must be in the future, within a year. */
export function parseUntil(text: string | undefined, now: number): number | null {
  if (text === undefined) return null;
  const d = parseDuration(text);
  const t =
    d !== undefined ? now + d : /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(t))
    throw new BadRequest(
      `body.until: "${text}" is neither an ISO time (2026-01-31T18:00:00Z) nor a duration (2h, 1d)`,
    );
  if (t <= now) throw new BadRequest("body.until: must be in the future");
  if (t > now + 366 * 86_400_000) throw new BadRequest("body.until: must be within a year");
  return t;
}

type Handler = (
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  who: Principal,
) => Promise<void> | void;

/** What every handler reads: the store, the clock, the log and GitHub's web address. */
interface ApiContext {
  deps: AdminApiDeps;
  store: Store;
  now: () => number;
  log: Logger;
  gh: string | undefined;
}

/** The read endpoints (`GET`): status, tasks, runs, schedules, batches, audit, spend, automerge. */
function readHandlers({ deps, store, now, gh }: ApiContext): Record<string, Handler> {
  return {
    "/bg/api/session": (_req, res, url, who) => {
      parseQuery(emptyQuery, url);
      sendJson(
        res,
        200,
        who.via === "session"
          ? {
              via: "session",
              login: who.actor,
              expiresAt: who.session.exp,
              csrf: deps.sessions?.csrfFor(who.session) ?? null,
            }
          : { via: "token", login: "admin" },
      );
    },
    "/bg/api/status": async (_req, res, url) => {
      parseQuery(emptyQuery, url);
      sendJson(res, 200, await buildStatus(store, now()));
    },
    "/bg/api/tasks": async (_req, res, url) => {
      const q = parseQuery(tasksQuery, url);
      const filter = {
        ...(q.repo ? { repo: q.repo } : {}),
        ...(q.status ? { status: q.status as (typeof TASK_STATUSES)[number] } : {}),
        ...(q.type ? { type: q.type } : {}),
      };
      const tasks = (await store.tasks.list({ ...filter, limit: q.limit, offset: q.offset })).map(
        (t) => ({
          id: t.id,
          repo: t.repo,
          type: t.type,
          source: t.source,
          status: t.status,
          priority: t.priority,
          attempts: t.attempts,
          maxAttempts: t.maxAttempts,
          nextRunAt: t.nextRunAt,
          // Payloads may carry issue bodies: only a short title and a link are shown.
          title: typeof t.payload.title === "string" ? clip(t.payload.title, 200) : null,
          link:
            typeof t.payload.url === "string" && /^https?:\/\//i.test(t.payload.url)
              ? t.payload.url
              : linkFor(t.repo, t.source, null, gh),
          lastError: clip(t.lastError, 500),
          createdAt: t.createdAt,
          updatedAt: t.updatedAt,
        }),
      );
      sendJson(res, 200, {
        tasks,
        total: await store.stats.taskCount(filter),
        limit: q.limit,
        offset: q.offset,
      });
    },
    "/bg/api/runs": async (_req, res, url) => {
      const q = parseQuery(runsQuery, url);
      const runs = await store.runs.list({
        ...(q.repo ? { repo: q.repo } : {}),
        ...(q.kind ? { kind: q.kind } : {}),
        ...(q.task ? { ref: taskRef(q.task) } : {}),
        ...(q.before ? { beforeId: q.before } : {}),
        limit: q.limit,
      });
      const last = runs[runs.length - 1];
      sendJson(res, 200, {
        runs: runs.map((r) => runView(r, gh)),
        limit: q.limit,
        nextBefore: runs.length === q.limit && last ? last.id : null,
      });
    },
    "/bg/api/schedules": async (_req, res, url) => {
      const q = parseQuery(schedulesQuery, url);
      const schedules = (
        await listScheduleViews(store, {
          ...(q.repo ? { repo: q.repo } : {}),
          ...(q.status ? { status: q.status } : {}),
        })
      ).map((v) => ({
        ...v,
        reason: clip(v.reason, 500),
        lastRun: v.lastRun
          ? { ...v.lastRun, link: linkFor(v.repo, taskRef(v.name), v.lastRun.url, gh) }
          : null,
      }));
      sendJson(res, 200, { schedules });
    },
    "/bg/api/batches": async (_req, res, url) => {
      const q = parseQuery(batchesQuery, url);
      const batches = await store.stats.batches({
        ...(q.repo ? { repo: q.repo } : {}),
        ...(q.before ? { beforeId: q.before } : {}),
        limit: q.limit,
      });
      const last = batches[batches.length - 1];
      sendJson(res, 200, {
        batches: batches.map((b) => ({
          id: b.id,
          repo: b.repo,
          type: b.type,
          provider: b.provider,
          model: b.model,
          status: b.status,
          items: b.items,
          promptTokens: b.promptTokens,
          cachedTokens: b.cachedTokens,
          completionTokens: b.completionTokens,
          cacheHitShare: cacheShare(b.promptTokens, b.cachedTokens),
          costUsd: b.costUsd,
          error: clip(b.error, 500),
          startedAt: b.startedAt,
          finishedAt: b.finishedAt,
        })),
        limit: q.limit,
        nextBefore: batches.length === q.limit && last ? last.id : null,
      });
    },
    "/bg/api/audit": async (_req, res, url) => {
      const q = parseQuery(auditQuery, url);
      const entries = await store.audit.list({
        ...(q.repo ? { repo: q.repo } : {}),
        limit: q.limit,
        offset: q.offset,
      });
      sendJson(res, 200, {
        entries: entries.map((e) => ({ ...e, args: clip(e.args, 500) })),
        limit: q.limit,
        offset: q.offset,
      });
    },
    "/bg/api/spend": async (_req, res, url) => {
      const q = parseQuery(spendQuery, url);
      sendJson(res, 200, await buildSpend(store, q.days, q.repo, now()));
    },
    "/bg/api/automerge": async (_req, res, url) => {
      const q = parseQuery(repoOnlyQuery, url);
      const waiting = (await store.automerge.waiting(q.repo)).map((s) => {
        const unmet =
          s.conditions.find((c) => c.id === s.firstUnmet && !c.met) ??
          s.conditions.find((c) => !c.met);
        return {
          repo: s.repo,
          pr: s.pr,
          state: s.state,
          headSha: s.headSha,
          firstUnmet: s.firstUnmet ?? unmet?.id ?? null,
          firstUnmetDetail: unmet ? clip(unmet.detail, 300) : null,
          conditions: s.conditions.length,
          conditionsMet: s.conditions.filter((c) => c.met).length,
          evaluatedAt: s.evaluatedAt,
          link: linkFor(s.repo, `pr:${s.pr}`, null, gh),
        };
      });
      sendJson(res, 200, { waiting });
    },
  };
}

/** The actions (`POST`): pause, resume, wake; each is audited and logged. */
function actionHandlers({ deps, store, now, log }: ApiContext): Record<string, Handler> {
  return {
    "/bg/api/pause": async (req, res, _url, who) => {
      const b = await parseBody(pauseBody, req);
      const t = now();
      const repo = b.repo ?? "*";
      const until = parseUntil(b.until, t);
      const reason = b.reason?.trim() || null;
      await store.tx(async (t) => {
        await t.activity.pause(repo, who.actor, until, reason);
        await t.audit.write({
          actor: who.actor,
          repo,
          target: null,
          command: "pause",
          args: JSON.stringify({
            until: until === null ? null : new Date(until).toISOString(),
            reason,
          }),
          result: "ok",
          deliveryId: null,
        });
      });
      log.info(
        { repo, until, by: who.actor },
        repo === "*"
          ? "all repositories paused through the admin API"
          : "repository paused through the admin API",
      );
      sendJson(res, 200, { paused: true, repo, until, by: who.actor, reason });
    },
    "/bg/api/resume": async (req, res, _url, who) => {
      const b = await parseBody(resumeBody, req);
      const repo = b.repo ?? "*";
      const changed = await store.tx(async (t) => {
        const c = await t.activity.resume(repo);
        await t.audit.write({
          actor: who.actor,
          repo,
          target: null,
          command: "resume",
          args: null,
          result: c ? "ok" : "was not paused",
          deliveryId: null,
        });
        return c;
      });
      log.info({ repo, changed, by: who.actor }, "resumed through the admin API");
      const global = repo !== "*" ? await store.activity.manualPause("*", now()) : null;
      sendJson(res, 200, {
        paused: false,
        repo,
        changed,
        ...(global ? { note: "all repositories are still paused: resume them with no repo" } : {}),
      });
    },
    "/bg/api/wake": async (req, res, _url, who) => {
      await parseBody(z.object({}).strict(), req);
      if (!deps.wake) {
        sendError(res, 503, "no worker runs in this process (BG_WORKER=off): nothing to wake");
        return;
      }
      log.info({ by: who.actor }, "worker pass requested through the admin API");
      const pass = deps.wake();
      pass.catch((e: unknown) => log.error({ err: errText(e) }, "worker pass after wake failed"));
      let timer: NodeJS.Timeout | undefined;
      const waited = await Promise.race([
        pass.then(
          (summary) => ({ done: true as const, summary }),
          (e: unknown) => ({
            done: true as const,
            error: errText(e),
          }),
        ),
        new Promise<{ done: false }>((resolve) => {
          timer = setTimeout(() => resolve({ done: false }), deps.wakeWaitMs ?? 2_000);
        }),
      ]);
      clearTimeout(timer);
      sendJson(
        res,
        202,
        waited.done ? { accepted: true, ...waited } : { accepted: true, done: false },
      );
    },
  };
}

/** `GET /bg/api/runs/:id`. */
async function getRun(
  { store, gh }: ApiContext,
  res: ServerResponse,
  url: URL,
  id: number,
): Promise<void> {
  parseQuery(emptyQuery, url);
  const r = await store.runs.byId(id);
  if (!r) {
    sendError(res, 404, `no run ${id}`);
    return;
  }
  sendJson(res, 200, { run: { ...runView(r, gh), summary: clip(r.summary, 20_000) } });
}

/** `POST /bg/api/schedules/:id/run|pause|resume`: audited like the other actions. */
async function scheduleAction(
  { deps, store, now, log }: ApiContext,
  req: IncomingMessage,
  res: ServerResponse,
  who: Principal,
  id: number,
  action: "run" | "pause" | "resume",
): Promise<void> {
  await parseBody(z.object({}).strict(), req);
  const s = await store.schedules.byId(id);
  if (!s) {
    sendError(res, 404, `no schedule ${id} (GET /bg/api/schedules lists them)`);
    return;
  }
  const t = now();
  const outcome = await store.tx(async (txs) => {
    let r: { ok: true; result: string } | { ok: false; why: string };
    if (action === "run") {
      const q = await enqueueManualRun(txs, s.repo, s.name, who.actor, t);
      r = q.ok
        ? {
            ok: true,
            result: `prompt_task ${q.task.id} ${q.created ? "queued" : "already queued"}`,
          }
        : q;
    } else if (action === "pause") {
      const p = await pauseSchedule(txs, s.repo, s.name, who.actor, "the dashboard", t);
      r = p.ok ? { ok: true, result: p.changed ? "paused task" : "already paused" } : p;
    } else {
      const p = await resumeSchedule(txs, s.repo, s.name, t);
      r = p.ok
        ? {
            ok: true,
            result: s.status === "active" ? "not paused" : `resumed task (was ${s.status})`,
          }
        : p;
    }
    await txs.audit.write({
      actor: who.actor,
      repo: s.repo,
      target: taskRef(s.name),
      command: action,
      args: s.name,
      result: (r.ok ? r.result : `refused: ${r.why}`).slice(0, 1000),
      deliveryId: null,
    });
    return r;
  });
  log.info(
    { repo: s.repo, task: s.name, action, by: who.actor },
    "schedule action through the admin API",
  );
  if (!outcome.ok) {
    sendError(res, 409, `${action} ${s.name}: ${outcome.why}`);
    return;
  }
  if (action === "run")
    deps
      .wake?.()
      .catch((e: unknown) => log.warn({ err: errText(e) }, "worker pass after run failed"));
  const after = await store.schedules.byId(id);
  sendJson(res, 200, {
    ok: true,
    action,
    result: outcome.result,
    schedule: after ? await scheduleView(store, after) : null,
  });
}

/** Routes with an id in the path, or null. */
function paramRoute(
  ctx: ApiContext,
  path: string,
): { allowed: "GET" | "POST"; run: Handler } | null {
  const run = /^\/bg\/api\/runs\/(\d{1,15})$/.exec(path);
  if (run)
    return {
      allowed: "GET",
      run: async (_req, res, url) => await getRun(ctx, res, url, Number(run[1])),
    };
  const act = /^\/bg\/api\/schedules\/(\d{1,15})\/(run|pause|resume)$/.exec(path);
  if (act)
    return {
      allowed: "POST",
      run: (req, res, _url, who) =>
        scheduleAction(ctx, req, res, who, Number(act[1]), act[2] as "run" | "pause" | "resume"),
    };
  return null;
}

/** The JSON admin API under /bg/api, every endpoint behind the admin bearer token or a GitHub sign-in session (auth.ts). */
export function createAdminApi(deps: AdminApiDeps): Route {
  const ctx: ApiContext = {
    deps,
    store: deps.store,
    now: deps.now ?? Date.now,
    log: deps.log.child({ component: "admin-api" }),
    gh: deps.githubUrl,
  };
  const { log } = ctx;
  const get = readHandlers(ctx);
  const post = actionHandlers(ctx);

  return async (req, res, url) => {
    const path = url.pathname.replace(/\/+$/, "");
    if (path !== "/bg/api" && !path.startsWith("/bg/api/")) return false;
    const who = await authenticate(req, res, {
      ...(deps.adminToken ? { adminToken: deps.adminToken } : {}),
      ...(deps.sessions ? { sessions: deps.sessions } : {}),
    });
    if (!who) return true;
    const method = req.method ?? "GET";
    const param = paramRoute(ctx, path);
    const isGet = method === "GET" || method === "HEAD";
    const handler = param
      ? (param.allowed === "GET" ? isGet : method === param.allowed)
        ? param.run
        : undefined
      : (isGet ? get : method === "POST" ? post : {})[path];
    try {
      if (!handler) {
        const allowed = param?.allowed ?? (get[path] ? "GET" : post[path] ? "POST" : null);
        if (allowed) {
          sendJson(
            res,
            405,
            { error: `${method} is not allowed here: use ${allowed}` },
            { allow: allowed },
          );
        } else {
          sendError(res, 404, `no such endpoint: ${path} (see docs/dashboard.md)`);
        }
        return true;
      }
      if (method === "POST" && !requireCsrf(req, res, who, deps.sessions)) return true;
      await handler(req, res, url, who);
    } catch (e) {
      if (e instanceof BadRequest) sendError(res, 400, e.message);
      else if (e instanceof BodyTooLargeError)
        sendError(res, 413, `body is over ${MAX_BODY} bytes`);
      else {
        log.error({ err: errText(e), path }, "admin API request failed");
        if (!res.headersSent) sendError(res, 500, "internal error (see the server log)");
      }
    }
    return true;
  };
}

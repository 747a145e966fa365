import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { Counter, Gauge, Registry } from "prom-client";
import type { Logger } from "../log.js";
import type { Store } from "../store/index.js";
import { TASK_TYPES } from "../core/task-kinds.js";
import type { Route } from "./http.js";
import { sendError } from "./http.js";
import type { Sessions } from "./session.js";
import { TASK_STATUSES } from "../core/domain.js";
import { buildStatus } from "./status.js";
import { errText } from "../util/errors.js";

export interface MetricsDeps {
  store: Store;
  log: Logger;
  /** BG_METRICS_TOKEN: when set, scrapes need `Authorization: Bearer <it>` (the admin token works too). */
  metricsToken?: string;
  adminToken?: string;
  /** GitHub sign-in sessions: a signed-in person may read the metrics too. */
  sessions?: Sessions;
  now?: () => number;
}

/** Label values come from the store: keep them short and tame (never a repository name). */
const label = (s: string): string => (/^[a-z0-9_.-]{1,50}$/i.test(s) ? s : "other");

/**
 * A registry of its own whose every metric is computed from the store at scrape time (collect
 * callbacks), so no other module increments anything and the numbers survive restarts. Labels
 * never carry repository names: the cardinality stays bounded and a scrape reveals no names.
 */
export function createMetricsRegistry(store: Store, now: () => number = Date.now): Registry {
  const registry = new Registry();
  const opts = { registers: [registry] };

  new Gauge({
    ...opts,
    name: "bg_deliveries",
    help: "Webhook deliveries recorded for dedup (pruned after a few days), by event",
    labelNames: ["event"],
    async collect() {
      this.reset();
      for (const r of await store.deliveries.countsByEvent())
        this.inc({ event: label(r.event) }, r.count);
    },
  });

  new Gauge({
    ...opts,
    name: "bg_tasks",
    help: "Tasks in the store by type and status",
    labelNames: ["type", "status"],
    async collect() {
      this.reset();
      for (const t of TASK_TYPES)
        for (const s of TASK_STATUSES) this.set({ type: t, status: s }, 0);
      for (const c of await store.tasks.counts())
        this.inc({ type: label(c.type), status: label(c.status) }, c.count);
    },
  });

  new Gauge({
    ...opts,
    name: "bg_queue_oldest_age_seconds",
    help: "Age of the oldest due pending task by type (0: nothing waiting)",
    labelNames: ["type"],
    async collect() {
      this.reset();
      for (const t of TASK_TYPES) this.set({ type: t }, 0);
      for (const r of await store.stats.queueAgeByType(now()))
        this.set({ type: label(r.type) }, r.ageMs / 1000);
    },
  });

  new Counter({
    ...opts,
    name: "bg_batches_total",
    help: "LLM batches by task type and status",
    labelNames: ["type", "status"],
    async collect() {
      this.reset();
      for (const c of await store.stats.batchCounts())
        this.inc({ type: label(c.type), status: label(c.status) }, c.count);
    },
  });

  new Counter({
    ...opts,
    name: "bg_batch_items_total",
    help: "Items (issues, tasks) handled in LLM batches",
    labelNames: ["type"],
    async collect() {
      this.reset();
      for (const c of await store.stats.batchCounts())
        this.inc({ type: label(c.type) }, c.items ?? 0);
    },
  });

  new Counter({
    ...opts,
    name: "bg_llm_tokens_total",
    help: "LLM tokens spent: prompt (including cached), cached prompt, completion",
    labelNames: ["kind"],
    async collect() {
      this.reset();
      const t = await store.stats.llmTotals();
      this.inc({ kind: "prompt" }, t.promptTokens);
      this.inc({ kind: "cached" }, t.cachedTokens);
      this.inc({ kind: "completion" }, t.completionTokens);
    },
  });

  new Counter({
    ...opts,
    name: "bg_llm_cost_usd_total",
    help: "LLM spend in USD",
    async collect() {
      this.reset();
      this.inc((await store.stats.llmTotals()).costUsd);
    },
  });

  new Counter({
    ...opts,
    name: "bg_llm_calls_total",
    help: "LLM calls made",
    async collect() {
      this.reset();
      this.inc((await store.stats.llmTotals()).calls);
    },
  });

  new Gauge({
    ...opts,
    name: "bg_llm_cost_usd",
    help: "LLM spend in USD in the current UTC day and month",
    labelNames: ["period"],
    async collect() {
      const rows = await store.stats.spendByRepo(now());
      this.set(
        { period: "day" },
        rows.reduce((n, r) => n + r.todayUsd, 0),
      );
      this.set(
        { period: "month" },
        rows.reduce((n, r) => n + r.monthUsd, 0),
      );
    },
  });

  new Counter({
    ...opts,
    name: "bg_runs_total",
    help: "Runs (history of processed work) by kind and status",
    labelNames: ["kind", "status"],
    async collect() {
      this.reset();
      for (const c of await store.stats.runCounts())
        this.inc({ kind: label(c.kind), status: label(c.status) }, c.count);
    },
  });

  new Counter({
    ...opts,
    name: "bg_merges_total",
    help: "Pull requests merged by bg-agent",
    async collect() {
      this.reset();
      const merged = (await store.stats.runCounts()).filter(
        (c) => c.kind === "automerge" && c.status === "merged",
      );
      this.inc(merged.reduce((n, c) => n + c.count, 0));
    },
  });

  new Counter({
    ...opts,
    name: "bg_failures_total",
    help: "Failed runs by kind",
    labelNames: ["kind"],
    async collect() {
      this.reset();
      for (const c of await store.stats.runCounts())
        if (c.status === "failed") this.inc({ kind: label(c.kind) }, c.count);
    },
  });

  new Gauge({
    ...opts,
    name: "bg_automerge_prs",
    help: "Pull requests known to automerge by state",
    labelNames: ["state"],
    async collect() {
      this.reset();
      for (const c of await store.stats.automergeCounts())
        this.set({ state: label(c.state) }, c.count);
    },
  });

  new Gauge({
    ...opts,
    name: "bg_repositories",
    help: "Repositories by state: active, waiting (people active, budget spent, invalid config) or paused",
    labelNames: ["state"],
    async collect() {
      const status = await buildStatus(store, now());
      for (const s of ["active", "waiting", "paused"] as const) {
        this.set({ state: s }, status.repos.filter((r) => r.state === s).length);
      }
    },
  });

  new Gauge({
    ...opts,
    name: "bg_paused_all",
    help: "1 while all repositories are paused (admin API or /bg pause on every repository)",
    async collect() {
      const a = await store.activity.get("*");
      this.set(a.paused && (a.pausedUntil === null || a.pausedUntil > now()) ? 1 : 0);
    },
  });

  return registry;
}

function bearerMatches(req: IncomingMessage, tokens: (string | undefined)[]): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? "");
  if (!m) return false;
  const given = Buffer.from(m[1]!.trim());
  return tokens.some((t) => {
    if (!t) return false;
    const want = Buffer.from(t);
    return want.length === given.length && timingSafeEqual(want, given);
  });
}

/**
 * GET /bg/metrics in Prometheus text format. Open unless BG_METRICS_TOKEN is set: the metrics
 * hold counts only (no repository names, no content); set the token where even counts are private.
 */
export function createMetricsRoute(deps: MetricsDeps): Route {
  const registry = createMetricsRegistry(deps.store, deps.now);
  const log = deps.log.child({ component: "metrics" });
  return async (req, res, url) => {
    if (url.pathname !== "/bg/metrics") return false;
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET");
      sendError(res, 405, "use GET");
      return true;
    }
    if (
      deps.metricsToken &&
      !bearerMatches(req, [deps.metricsToken, deps.adminToken]) &&
      !(req.headers.authorization === undefined && (await deps.sessions?.read(req)))
    ) {
      res.setHeader("www-authenticate", 'Bearer realm="bg-agent metrics"');
      sendError(res, 401, "missing or wrong metrics token (BG_METRICS_TOKEN)");
      return true;
    }
    try {
      const text = await registry.metrics();
      res.writeHead(200, { "content-type": registry.contentType, "cache-control": "no-store" });
      res.end(req.method === "HEAD" ? undefined : text);
    } catch (e) {
      log.error({ err: errText(e) }, "metrics scrape failed");
      sendError(res, 500, "metrics could not be computed (see the server log)");
    }
    return true;
  };
}

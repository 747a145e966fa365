import { createServer as createHttpServer } from "node:http";
import type { IncomingMessage, Server as HttpServer, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "./log.js";
import { soloCommit } from "./store/group-commit.js";
import type { IntakeCommit } from "./store/index.js";
import type { Store } from "./store/index.js";
import type { ScopedStore } from "./store/scoped-store.js";
import { isStoreUnavailable, reasonOf } from "./store/unavailable.js";
import { sendJson } from "./web/http.js";
import type { Route } from "./web/http.js";
import { createWebhookEndpoint, failureOutcome, header, RETRY_AFTER_SECONDS } from "./webhook.js";
import type { Outcome, WebhookReceiver } from "./webhook.js";

export type { WebhookReceiver } from "./webhook.js";

/** GitHub caps webhook payloads at 25 MB. */
export const MAX_WEBHOOK_BYTES = 25 * 1024 * 1024;
export const DEFAULT_WEBHOOK_PATH = "/api/github/webhooks";

export interface ServerOptions {
  receiver: WebhookReceiver;
  store: Store;
  log: Logger;
  /** Extra routes tried in order after the webhook (admin API, dashboard, worker API). */
  routes?: Route[];
  webhookPath?: string;
  /** Where the dashboard is, for the start-up line (default /bg; null: not served). */
  dashboardPath?: string | null;
  maxBodyBytes?: number;
  /** WEBHOOK_PROXY_URL: a smee.io channel forwarded to the local webhook URL. */
  webhookProxyUrl?: string;
  /** The intake's group commit (default: one on the store, fsyncing the WAL; see src/store/group-commit.ts). */
  groupCommit?: IntakeCommit;
  /**
   * Given (a store without a group commit: PostgreSQL), each delivery is one transaction and the
   * receiver's handlers use `deliveryScope.store` (src/store/scoped-store.ts, src/webhook.ts).
   */
  deliveryScope?: ScopedStore;
  /** How long `GET /readyz` waits for the store to answer (default 2 s). */
  readyTimeoutMs?: number;
  /** Shown on the landing page. */
  name?: string;
  version?: string;
}

export interface BgServer {
  http: HttpServer;
  /** The intake group commit (its `commits` count is a metric). */
  group: IntakeCommit;
  /** Starts listening; resolves with the bound port. */
  listen(port: number, host?: string): Promise<number>;
  /** The base URL once listening. */
  url(): string;
  close(): Promise<void>;
}

/**
 * bg-agent's HTTP server. Probot's own Server puts its webhook middleware first, with no body
 * cap and a 500 for malformed JSON, so we front Probot: the webhook endpoint checks size, headers
 * and signature, dedups by X-GitHub-Delivery, and answers 2xx only after every handler finished
 * (their transactions committed). Bad input is a 4xx, never a 500; an internal failure is a 500
 * and the delivery is not recorded, so a redelivery is processed; the database being unavailable
 * is a 503 with Retry-After, likewise not recorded. `GET /ping` is liveness (the process answers),
 * `GET /readyz` readiness (the store answers too).
 */
export function createServer(o: ServerOptions): BgServer {
  const log = o.log.child({ name: "server" });
  const webhookPath = o.webhookPath ?? DEFAULT_WEBHOOK_PATH;
  const routes = o.routes ?? [];
  let proxy: { stop(): Promise<void> } | undefined;
  const group = o.deliveryScope
    ? // Each delivery is its own transaction: the "group" only counts commits.
      soloCommit()
    : // SQLite shares one fsync among concurrent deliveries; a store without one commits each alone.
      (o.groupCommit ?? o.store.groupCommit?.() ?? soloCommit());
  const webhook = createWebhookEndpoint({
    receiver: o.receiver,
    store: o.store,
    log,
    group,
    ...(o.deliveryScope ? { scope: o.deliveryScope } : {}),
    limit: o.maxBodyBytes ?? MAX_WEBHOOK_BYTES,
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // The webhook path as GitHub sends it (no query) needs no URL parsing; anything else does.
    const url = req.url === webhookPath ? undefined : new URL(req.url ?? "/", "http://localhost");
    const isWebhook =
      url === undefined ||
      url.pathname === webhookPath ||
      (url.pathname === "/" && req.method === "POST" && header(req, "x-github-event"));
    if (isWebhook) return answerWebhook(req, res, webhook, log);
    if (req.method === "GET" && url.pathname === "/ping") {
      res.writeHead(200, { "content-type": "text/plain" }).end("PONG");
      return;
    }
    if (req.method === "GET" && url.pathname === "/readyz") {
      const why = await notReady(o.store, o.readyTimeoutMs ?? 2000);
      if (why === null) sendJson(res, 200, { ok: true });
      else
        sendJson(
          res,
          503,
          { ok: false, error: why },
          { "retry-after": String(RETRY_AFTER_SECONDS), "cache-control": "no-store" },
        );
      return;
    }
    for (const route of routes) {
      if (await route(req, res, url)) return;
    }
    if (req.method === "GET" && url.pathname === "/") {
      sendJson(res, 200, landing(o, webhookPath));
      return;
    }
    sendJson(res, 404, { error: "not found" });
  }

  const http = createHttpServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      const unavailable = isStoreUnavailable(e);
      if (unavailable) log.warn({ err: e, url: req.url }, "request failed: database unavailable");
      else log.error({ err: e, url: req.url }, "request failed");
      if (res.headersSent) res.end();
      else if (unavailable)
        sendJson(
          res,
          503,
          { error: "the database is unavailable; try again shortly" },
          { "retry-after": String(RETRY_AFTER_SECONDS) },
        );
      else sendJson(res, 500, { error: "internal error" });
    });
  });
  http.requestTimeout = 60_000;

  const address = (): AddressInfo => {
    const a = http.address();
    if (!a || typeof a === "string") throw new Error("the server is not listening");
    return a;
  };
  const url = (): string => {
    const a = address();
    const host =
      a.address === "::" || a.address === "0.0.0.0"
        ? "127.0.0.1"
        : a.family === "IPv6"
          ? `[${a.address}]`
          : a.address;
    return `http://${host}:${a.port}`;
  };

  return {
    http,
    group,
    url,
    async listen(port, host) {
      await o.receiver.ready?.();
      await new Promise<void>((resolve, reject) => {
        http.once("error", reject);
        http.listen(port, host, () => {
          http.off("error", reject);
          resolve();
        });
      });
      const base = url();
      log.info(
        `listening on ${base} (webhooks at ${base}${webhookPath}${o.dashboardPath === null ? "" : `, dashboard at ${base}${o.dashboardPath ?? "/bg"}`})`,
      );
      if (o.webhookProxyUrl)
        proxy = await startProxy(o.webhookProxyUrl, `${base}${webhookPath}`, log);
      return address().port;
    },
    async close() {
      group.close();
      await proxy?.stop().catch(() => {});
      proxy = undefined;
      if (!http.listening) return;
      await new Promise<void>((resolve, reject) => {
        http.close((err) => (err ? reject(err) : resolve()));
        http.closeIdleConnections();
      });
    },
  };
}

/** The webhook endpoint's answer; a refusal before the body was read closes the connection. */
async function answerWebhook(
  req: IncomingMessage,
  res: ServerResponse,
  webhook: (req: IncomingMessage) => Promise<Outcome>,
  log: Logger,
): Promise<void> {
  if (req.method !== "POST") {
    sendJson(res, 405, { error: "webhooks are POSTed" }, { allow: "POST" });
    return;
  }
  let out: Outcome;
  try {
    out = await webhook(req);
    // Refused before (or while) reading the body: close, so the unread rest is never read.
    if (out.status >= 400 && out.status < 500 && !req.complete) out.close = true;
  } catch (e) {
    out = failureOutcome(e);
    const where = { err: e, delivery: header(req, "x-github-delivery") };
    if (out.status === 503)
      log.warn(
        where,
        "the database is unavailable: webhook answered 503, not recorded; redeliver it once the database is back",
      );
    else log.error(where, "webhook handling failed; not recorded, a redelivery will be processed");
  }
  sendJson(res, out.status, out.body, {
    ...out.headers,
    ...(out.close ? { connection: "close" } : {}),
  });
  if (out.close) res.once("finish", () => req.socket.destroySoon());
}

/** `GET /`: what this server is. */
const landing = (o: ServerOptions, webhookPath: string): Record<string, unknown> => ({
  name: o.name ?? "bg-agent",
  ...(o.version ? { version: o.version } : {}),
  webhook: webhookPath,
  health: "/ping",
  ready: "/readyz",
  docs: "https://github.com/bg-agent/bg-agent#readme",
});

/**
 * Readiness: null when the store answers a trivial query within `timeoutMs`, else why not. A store
 * without `ping` (SQLite: a file of this process) is ready once open.
 */
async function notReady(store: Store, timeoutMs: number): Promise<string | null> {
  if (!store.ping) return null;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(
      () => resolve(`the database did not answer within ${timeoutMs} ms`),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([
      store.ping().then(
        () => null,
        (e: unknown) => reasonOf(e),
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** WEBHOOK_PROXY_URL: a smee.io channel forwarded to the local webhook URL. */
async function startProxy(
  source: string,
  target: string,
  log: Logger,
): Promise<{ stop(): Promise<void> }> {
  const { SmeeClient } = await import("smee-client");
  const client = new SmeeClient({
    source,
    target,
    logger: { info: (m: string) => log.info(m), error: (m: string) => log.error(m) },
  });
  await client.start();
  log.info(`forwarding ${source} to ${target}`);
  return client;
}

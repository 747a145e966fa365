import { createServer as createHttpServer } from "node:http";
import type { IncomingMessage, Server as HttpServer, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { EmitterWebhookEvent } from "@octokit/webhooks";
import type { Logger } from "./log.js";
import { GroupCommit } from "./store/group-commit.js";
import type { Store } from "./store/index.js";
import { BodyTooLargeError, readBody, sendJson } from "./web/http.js";
import type { Route } from "./web/http.js";

/** GitHub caps webhook payloads at 25 MB. */
export const MAX_WEBHOOK_BYTES = 25 * 1024 * 1024;
export const DEFAULT_WEBHOOK_PATH = "/api/github/webhooks";

/** What the server needs of the app: Probot's signature verification, and dispatch to the handlers (createApp). */
export interface WebhookReceiver {
  webhooks: { verify(payload: string, signature: string): Promise<boolean> };
  receive(event: EmitterWebhookEvent): Promise<void>;
  ready?(): Promise<unknown>;
}

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
  groupCommit?: GroupCommit;
  /** Shown on the landing page. */
  name?: string;
  version?: string;
}

export interface BgServer {
  http: HttpServer;
  /** The intake group commit (its `commits` count is a metric). */
  group: GroupCommit;
  /** Starts listening; resolves with the bound port. */
  listen(port: number, host?: string): Promise<number>;
  /** The base URL once listening. */
  url(): string;
  close(): Promise<void>;
}

type Outcome = { status: number; body: Record<string, unknown>; close?: boolean };

const header = (req: IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

/**
 * bg-agent's HTTP server. Probot's own Server puts its webhook middleware first, with no body
 * cap and a 500 for malformed JSON, so we front Probot: the webhook endpoint checks size, headers
 * and signature, dedups by X-GitHub-Delivery, and answers 2xx only after every handler finished
 * (their transactions committed). Bad input is a 4xx, never a 500; an internal failure (e.g. the
 * database) is a 500 and the delivery is not recorded, so a redelivery is processed.
 */
export function createServer(o: ServerOptions): BgServer {
  const log = o.log.child({ name: "server" });
  const webhookPath = o.webhookPath ?? DEFAULT_WEBHOOK_PATH;
  const limit = o.maxBodyBytes ?? MAX_WEBHOOK_BYTES;
  const routes = o.routes ?? [];
  /** Deliveries being handled now: a concurrent replay of one of them is a duplicate. */
  const inFlight = new Map<string, Promise<Outcome>>();
  let proxy: { stop(): Promise<void> } | undefined;
  const group =
    o.groupCommit ??
    new GroupCommit(o.store.db, o.store.db.syncWal ? { sync: () => o.store.db.syncWal!() } : {});

  async function webhook(req: IncomingMessage): Promise<Outcome> {
    const name = header(req, "x-github-event");
    const id = header(req, "x-github-delivery");
    const signature = header(req, "x-hub-signature-256");
    // Refused on the headers alone, before a byte of the body is read (nor buffered): an
    // unsigned or malformed request costs no memory and cannot hold the connection.
    const missing = [
      !name && "X-GitHub-Event",
      !id && "X-GitHub-Delivery",
      !signature && "X-Hub-Signature-256",
    ].filter(Boolean);
    if (missing.length)
      return { status: 400, body: { error: `missing header ${missing.join(", ")}` } };
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(name!) || id!.length > 200) {
      return { status: 400, body: { error: "malformed X-GitHub-Event or X-GitHub-Delivery" } };
    }
    if (!/^sha256=[0-9a-f]{64}$/i.test(signature!)) {
      log.warn({ delivery: id, event: name }, "webhook signature is not sha256=<hex>; ignored");
      return { status: 401, body: { error: "X-Hub-Signature-256 must be sha256=<64 hex digits>" } };
    }
    let body: Buffer;
    try {
      body = await readBody(req, limit);
    } catch (e) {
      if (e instanceof BodyTooLargeError)
        return { status: 413, body: { error: `payload over GitHub's ${limit} byte cap` } };
      throw e;
    }
    const text = body.toString("utf8");
    let verified = false;
    try {
      verified = await o.receiver.webhooks.verify(text, signature!);
    } catch {
      verified = false;
    }
    if (!verified) {
      log.warn(
        { delivery: id, event: name },
        "webhook signature does not match WEBHOOK_SECRET; ignored",
      );
      return { status: 401, body: { error: "signature does not match" } };
    }
    let payload: unknown;
    try {
      payload = JSON.parse(text);
    } catch {
      return { status: 400, body: { error: "body is not JSON" } };
    }
    if (payload === null || typeof payload !== "object" || Array.isArray(payload)) {
      return { status: 400, body: { error: "body is not a JSON object" } };
    }
    const p = payload as { action?: unknown; repository?: { full_name?: unknown } };
    const action = typeof p.action === "string" ? p.action : null;
    const repo = typeof p.repository?.full_name === "string" ? p.repository.full_name : null;
    const running = inFlight.get(id!);
    if (running) {
      // A replay racing the original: answer what the original gets (a 500 stays a 500).
      const first = await running.catch(() => ({
        status: 500,
        body: { error: "internal error; redeliver later" },
      }));
      return { status: first.status, body: { ...first.body, duplicate: true } };
    }
    const work = (async (): Promise<Outcome> => {
      log.debug({ delivery: id, event: name, action }, "webhook received");
      // A delivery with a committed record was handled before (a redelivery): nothing to do.
      // (A replay of one still in flight was answered above, from `inFlight`.)
      if (o.store.deliveries.has(id!)) {
        log.info({ delivery: id, event: name }, "duplicate delivery ignored");
        return { status: 200, body: { ok: true, duplicate: true } };
      }
      group.join();
      try {
        await o.receiver.receive({ id: id!, name, payload } as EmitterWebhookEvent);
        // The record is written here, in the same synchronous block as the handlers' last write
        // (their promise resolved without yielding to the event loop since), so a group COMMIT
        // can never hold this record without everything the delivery wrote: a crash before the
        // commit loses both, and GitHub's redelivery (no record) is processed again.
        if (!o.store.deliveries.record({ id: id!, event: name!, action, repo }))
          log.warn({ delivery: id, event: name }, "delivery recorded twice; handled again");
      } catch (e) {
        group.leave(); // nothing recorded: a redelivery is processed
        throw e;
      }
      // Answer only once the handlers' writes and the delivery record are committed.
      await group.commit();
      return { status: 200, body: { ok: true } };
    })();
    inFlight.set(id!, work);
    try {
      return await work;
    } finally {
      inFlight.delete(id!);
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // The webhook path as GitHub sends it (no query) needs no URL parsing; anything else does.
    const url = req.url === webhookPath ? undefined : new URL(req.url ?? "/", "http://localhost");
    const isWebhook =
      url === undefined ||
      url.pathname === webhookPath ||
      (url.pathname === "/" && req.method === "POST" && header(req, "x-github-event"));
    if (isWebhook) {
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
        log.error(
          { err: e, delivery: header(req, "x-github-delivery") },
          "webhook handling failed; not recorded, a redelivery will be processed",
        );
        out = { status: 500, body: { error: "internal error; redeliver later" } };
      }
      sendJson(res, out.status, out.body, out.close ? { connection: "close" } : {});
      if (out.close) res.once("finish", () => req.socket.destroySoon());
      return;
    }
    if (req.method === "GET" && url.pathname === "/ping") {
      res.writeHead(200, { "content-type": "text/plain" }).end("PONG");
      return;
    }
    for (const route of routes) {
      if (await route(req, res, url)) return;
    }
    if (req.method === "GET" && url.pathname === "/") {
      sendJson(res, 200, {
        name: o.name ?? "bg-agent",
        ...(o.version ? { version: o.version } : {}),
        webhook: webhookPath,
        health: "/ping",
        docs: "https://github.com/bg-agent/bg-agent#readme",
      });
      return;
    }
    sendJson(res, 404, { error: "not found" });
  }

  const http = createHttpServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      log.error({ err: e, url: req.url }, "request failed");
      if (!res.headersSent) sendJson(res, 500, { error: "internal error" });
      else res.end();
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
      if (o.webhookProxyUrl) {
        const { SmeeClient } = await import("smee-client");
        const target = `${url()}${webhookPath}`;
        const client = new SmeeClient({
          source: o.webhookProxyUrl,
          target,
          logger: { info: (m: string) => log.info(m), error: (m: string) => log.error(m) },
        });
        await client.start();
        proxy = client;
        log.info(`forwarding ${o.webhookProxyUrl} to ${target}`);
      }
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

import { generateKeyPairSync, randomUUID } from "node:crypto";
import { Probot, ProbotOctokit } from "probot";
import { createBgAgent } from "../../src/compose.js";
import { parseConfig } from "../../src/config/load.js";
import type { Logger } from "../../src/log.js";
import { memoryLogger } from "../../src/log.js";
import { readEnv } from "../../src/env.js";
import type { BgServer } from "../../src/server.js";
import type { IntakeCommit } from "../../src/store/index.js";
import type { SqliteStore, Store } from "../../src/store/index.js";
import type { Route } from "../../src/web/http.js";
import { memoryStore } from "./store.js";

export const WEBHOOK_SECRET = "test-webhook-secret";
export const WEBHOOK_PATH = "/api/github/webhooks";

let key: string | undefined;
/** A throwaway RSA key for the app's JWT (never used against a real GitHub). */
export const testPrivateKey = (): string =>
  (key ??= generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({
    type: "pkcs1",
    format: "pem",
  }) as string);

/** Probot with retries and throttling off, pointed at api.github.com (for nock). */
export function testProbot(): Probot {
  return new Probot({
    appId: 123,
    privateKey: testPrivateKey(),
    secret: WEBHOOK_SECRET,
    logLevel: "fatal",
    // A function, not an object: Probot hands every client its own `throttle` options, which an
    // object default would lose to (shallow merge), leaving the write throttle (1 s per POST) on.
    Octokit: ProbotOctokit.defaults((o: Record<string, unknown>) => ({
      ...o,
      retry: { enabled: false },
      throttle: { ...(o.throttle as object | undefined), enabled: false },
    })),
  });
}

export interface TestApp {
  store: SqliteStore;
  probot: Probot;
  server: BgServer;
  url: string;
  log: Logger & { lines: { level: string; msg: string; obj?: object }[] };
  close(): Promise<void>;
}

/** The real app (createBgAgent, no worker) on 127.0.0.1:0 with an in-memory store and only `routes`. */
export async function startTestApp(
  o: {
    store?: SqliteStore;
    routes?: Route[];
    selfLogin?: string;
    groupCommit?: IntakeCommit;
    /** BG_CONFIG_EXTENDS_ALLOW, parsed. */
    configExtendsAllow?: string[];
  } = {},
): Promise<TestApp> {
  const store = o.store ?? (await memoryStore());
  const probot = testProbot();
  const log = memoryLogger();
  const env = readEnv({ BG_DB_PATH: ":memory:", BG_WORKER: "off" });
  const { server } = await createBgAgent({
    env: { ...env, BG_CONFIG_EXTENDS_ALLOW: o.configExtendsAllow ?? env.BG_CONFIG_EXTENDS_ALLOW },
    processEnv: {},
    store,
    probot,
    log,
    identity: o.selfLogin ? { login: o.selfLogin } : {},
    retention: false,
    routes: o.routes ?? [],
    ...(o.groupCommit ? { groupCommit: o.groupCommit } : {}),
  });
  await server.listen(0, "127.0.0.1");
  // The store may be the caller's: closing the app closes only its server.
  return { store, probot, server, url: server.url(), log, close: () => server.close() };
}

export interface Delivery {
  name: string;
  payload: unknown;
  id?: string;
  /** Overrides the signature (bad-signature tests). */
  signature?: string;
  /** Raw body instead of JSON.stringify(payload). */
  body?: string;
  headers?: Record<string, string>;
}

export async function sign(probot: Probot, body: string): Promise<string> {
  return probot.webhooks.sign(body);
}

/** POSTs a signed delivery; returns the status and the parsed JSON answer. */
export async function deliver(
  app: Pick<TestApp, "url" | "probot">,
  d: Delivery,
): Promise<{ status: number; body: Record<string, unknown>; id: string }> {
  const body = d.body ?? JSON.stringify(d.payload);
  const id = d.id ?? randomUUID();
  const res = await fetch(`${app.url}${WEBHOOK_PATH}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-github-event": d.name,
      "x-github-delivery": id,
      "x-hub-signature-256": d.signature ?? (await app.probot.webhooks.sign(body)),
      ...d.headers,
    },
    body,
  });
  const text = await res.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = { text };
  }
  return { status: res.status, body: parsed, id };
}

/** Caches a config for a repository so handlers need no network. */
export async function seedConfig(
  store: Store,
  repo: string,
  raw: unknown,
  installationId = 1,
): Promise<void> {
  await store.repos.upsert({ fullName: repo, installationId });
  const r = parseConfig(raw);
  await store.repos.setConfig(repo, {
    json: raw === null ? null : JSON.stringify(raw),
    hash: r.hash,
    valid: r.ok,
    errors: r.problems.map((p) => `${p.path}: ${p.message}`),
  });
}

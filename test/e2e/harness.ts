import { randomUUID } from "node:crypto";
import nock from "nock";
import type { Probot } from "probot";
import { stringify } from "yaml";
import { createBgAgent } from "../../src/compose.js";
import { readEnv } from "../../src/env.js";
import { memoryLogger } from "../../src/log.js";
import type { Logger } from "../../src/log.js";
import { resetLimiters } from "../../src/llm/rate-limit.js";
import type { BgServer } from "../../src/server.js";
import type { Store } from "../../src/store/index.js";
import { runPass } from "../../src/worker/pass.js";
import type { PassSummary, Processor, WorkerEnv } from "../../src/core/worker-contract.js";
import { testProbot } from "../helpers/app-server.js";
import { memoryStore } from "../helpers/store.js";

export const API = "https://api.github.com";
export const LLM = "https://api.openai.com";
export const REPO = "octo/demo";
export const INSTALLATION = 1;
export const ADMIN_TOKEN = "e2e-admin-token-0123456789";
export const SELF = "bg-agent[bot]";

/** The repository's `.github/bg-agent.yml` in these tests (people "active" would defer LLM work). */
export const CONFIG = { activity: { pause_when_active_minutes: 0 } };

export interface E2E {
  store: Store;
  probot: Probot;
  server: BgServer;
  url: string;
  log: Logger & { lines: { level: string; msg: string; obj?: object }[] };
  env: WorkerEnv;
  /** One worker pass, as the app's loop runs it (no sweep). */
  pass(): Promise<PassSummary>;
  /** The passes intake asked the worker loop for (with `loop: true`), resolved or failed. */
  wakes: Promise<unknown>[];
  /** A signed delivery over loopback. */
  deliver(
    name: string,
    payload: unknown,
    id?: string,
  ): Promise<{ status: number; body: Record<string, unknown> }>;
  /** An admin API GET with the admin token. */
  admin<T = Record<string, unknown>>(path: string): Promise<{ status: number; body: T }>;
  /** Every request nock saw that no interceptor matched (a test asserts it is empty). */
  unmatched: string[];
  close(): Promise<void>;
}

/**
 * bg-agent composed by `createBgAgent` (src/compose.ts), as src/main.ts runs it: Probot (test key,
 * retries and throttling off), an in-memory store, the LLM from BG_LLM_*, no retention loop.
 * GitHub and the LLM are nock.
 */
export async function startE2E(
  o: {
    processors?: (p: Processor[]) => Processor[];
    /** Run the app's worker loop (woken by intake, as in main.ts) instead of passes on demand. */
    loop?: boolean;
  } = {},
): Promise<E2E> {
  resetLimiters();
  const store = await memoryStore();
  const probot = testProbot();
  const log = memoryLogger();
  const wakes: Promise<unknown>[] = [];
  const agent = await createBgAgent({
    env: readEnv({ BG_ADMIN_TOKEN: ADMIN_TOKEN, BG_DB_PATH: ":memory:" }),
    processEnv: {
      BG_LLM_PROVIDER: "openai",
      BG_LLM_API_KEY: "sk-e2e",
      BG_LLM_MODEL: "gpt-4o-mini",
    },
    store,
    probot,
    log,
    identity: { login: SELF },
    loop: Boolean(o.loop),
    onWake: (p) => void wakes.push(p.catch((e: unknown) => e)),
    retention: false,
    ...(o.processors ? { processors: o.processors } : {}),
  });
  await agent.start(0, "127.0.0.1");
  const { server, processors, workerEnv } = agent;
  const url = server.url();
  const unmatched: string[] = [];
  const onNoMatch = (req: {
    method?: string;
    path?: string;
    href?: string;
    options?: { href?: string };
  }) => {
    const where = req.href ?? req.options?.href ?? req.path ?? "?";
    // Loopback (our own server) passes through nock by design.
    if (/^https?:\/\/(127\.0\.0\.1|localhost)[:/]/.test(where)) return;
    unmatched.push(`${req.method ?? "?"} ${where}`);
  };
  nock.emitter.on("no match", onNoMatch);
  return {
    store,
    probot,
    server,
    url,
    log,
    env: workerEnv,
    unmatched,
    pass: () => runPass(workerEnv, processors),
    wakes,
    async deliver(name, payload, id = randomUUID()) {
      const body = JSON.stringify(payload);
      const res = await fetch(`${url}${probot.webhookPath}`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-github-event": name,
          "x-github-delivery": id,
          "x-hub-signature-256": await probot.webhooks.sign(body),
        },
        body,
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    },
    async admin<T>(path: string) {
      const res = await fetch(`${url}${path}`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      return { status: res.status, body: (await res.json()) as T };
    },
    async close() {
      nock.emitter.off("no match", onNoMatch);
      await agent.stop();
    },
  };
}

/** The installation token the app asks for before its first call to the repository's API. */
export function nockToken(times = 1): void {
  nock(API)
    .post(`/app/installations/${INSTALLATION}/access_tokens`)
    .times(times)
    .reply(201, {
      token: "ghs_e2e_installation_token",
      expires_at: new Date(Date.now() + 3_600_000).toISOString(),
      permissions: { issues: "write", pull_requests: "write", checks: "write", contents: "write" },
      repository_selection: "all",
    });
}

/** `.github/bg-agent.yml`, read once by intake (then cached in the store). */
export function nockConfig(config: unknown = CONFIG): void {
  nock(API)
    .get(`/repos/${REPO}/contents/.github%2Fbg-agent.yml`)
    .reply(200, stringify(config), { "content-type": "application/vnd.github.raw; charset=utf-8" });
}

/** The default branch and its head commit (read once per pass by the analysis and reports). */
export function nockRepoHead(sha: string): void {
  nock(API)
    .get(`/repos/${REPO}`)
    .reply(200, { id: 42, full_name: REPO, name: "demo", default_branch: "main" })
    .get(`/repos/${REPO}/branches/main`)
    .reply(200, { name: "main", commit: { sha } });
}

/** The project context through the API: the tree and the README. */
export function nockProjectContext(sha: string, readme = "# demo\n\nA small service.\n"): void {
  nock(API)
    .get(`/repos/${REPO}/git/trees/${sha}`)
    .query({ recursive: "true" })
    .reply(200, {
      sha,
      truncated: false,
      tree: [
        { path: "README.md", type: "blob", size: readme.length, sha: "1".repeat(40) },
        { path: "src/cache.ts", type: "blob", size: 100, sha: "2".repeat(40) },
      ],
    })
    .get(`/repos/${REPO}/contents/README.md`)
    .query({ ref: sha })
    .reply(200, {
      type: "file",
      path: "README.md",
      encoding: "base64",
      content: Buffer.from(readme).toString("base64"),
    })
    // The repository map reads the source files (one contents request each).
    .get((uri) => uri.startsWith(`/repos/${REPO}/contents/src%2Fcache.ts?ref=${sha}`))
    .reply(200, {
      type: "file",
      path: "src/cache.ts",
      encoding: "base64",
      content: Buffer.from(
        "export class Cache {\n  get(key: string): string | undefined {\n    return undefined;\n  }\n}\n",
      ).toString("base64"),
    });
}

export interface Captured<T> {
  bodies: T[];
}

/** One chat completion answering `content` (OpenAI's shape); records each request body. */
export function nockLlm(content: unknown): Captured<{ model: string; messages: unknown[] }> {
  const seen: Captured<{ model: string; messages: unknown[] }> = { bodies: [] };
  nock(LLM)
    .post("/v1/chat/completions", (b: { model: string; messages: unknown[] }) => {
      seen.bodies.push(b);
      return true;
    })
    .reply(200, {
      id: "chatcmpl-e2e",
      object: "chat.completion",
      created: 1,
      model: "gpt-4o-mini",
      choices: [
        {
          index: 0,
          finish_reason: "stop",
          logprobs: null,
          message: { role: "assistant", content: JSON.stringify(content), refusal: null },
        },
      ],
      usage: { prompt_tokens: 1200, completion_tokens: 150, total_tokens: 1350 },
    });
  return seen;
}

/** bg-agent's comment on an issue or PR, upserted by marker: the list (empty), then the POST. */
export function nockNewComment(number: number, id = 9000): Captured<{ body: string }> {
  const seen: Captured<{ body: string }> = { bodies: [] };
  nock(API)
    .get(`/repos/${REPO}/issues/${number}/comments`)
    .query(true)
    .reply(200, [])
    .post(`/repos/${REPO}/issues/${number}/comments`, (b: { body: string }) => {
      seen.bodies.push(b);
      return true;
    })
    .reply(201, { id, html_url: `https://github.com/${REPO}/issues/${number}#issuecomment-${id}` });
  return seen;
}

/** A check run bg-agent publishes (none of that name on the commit yet). */
export function nockNewCheckRun(
  name: string,
  sha: string,
): Captured<{
  name: string;
  head_sha: string;
  conclusion: string;
  output: { title: string; summary: string; text?: string };
}> {
  const seen: ReturnType<typeof nockNewCheckRun> = { bodies: [] };
  nock(API)
    .get(`/repos/${REPO}/commits/${sha}/check-runs`)
    .query((q) => q.check_name === name)
    .reply(200, { total_count: 0, check_runs: [] })
    .post(`/repos/${REPO}/check-runs`, (b: (typeof seen.bodies)[number]) => {
      seen.bodies.push(b);
      return b.name === name;
    })
    .reply(201, { id: 77, html_url: `https://github.com/${REPO}/runs/77` });
  return seen;
}

/** What a command comment costs on GitHub: the 👀 reaction and the permission lookup. */
export function nockCommandAck(
  commentId: number,
  login: string,
  permission: "admin" | "write" | "read" = "write",
): void {
  nock(API)
    .post(`/repos/${REPO}/issues/comments/${commentId}/reactions`, { content: "eyes" })
    .reply(201, { id: 1, content: "eyes" })
    .get(`/repos/${REPO}/collaborators/${login}/permission`)
    .reply(200, { permission, role_name: permission, user: { login } });
}

/** An `issue_comment.created` payload. */
export function commentEvent(o: {
  id: number;
  body: string;
  issue?: number;
  pr?: boolean;
  login?: string;
}) {
  const issue = o.issue ?? 3;
  const login = o.login ?? "bob";
  return {
    action: "created",
    issue: {
      number: issue,
      title: "Remove the legacy cache",
      state: "open",
      ...(o.pr ? { pull_request: { url: `${API}/repos/${REPO}/pulls/${issue}` } } : {}),
    },
    comment: {
      id: o.id,
      body: o.body,
      html_url: `https://github.com/${REPO}/issues/${issue}#issuecomment-${o.id}`,
      user: { login, type: "User" },
    },
    repository: {
      id: 42,
      name: "demo",
      full_name: REPO,
      default_branch: "main",
      owner: { login: "octo", type: "Organization" },
    },
    installation: { id: INSTALLATION },
    sender: { login, type: "User" },
  };
}

/** `installation.created` for the test repository: how bg-agent first learns of it. */
export function installationCreated() {
  return {
    action: "created",
    installation: { id: INSTALLATION, account: { login: "octo", type: "Organization" } },
    repositories: [{ id: 42, name: "demo", full_name: REPO, private: false }],
    sender: { login: "carol", type: "User" },
  };
}

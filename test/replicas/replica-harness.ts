/**
 * Replicas for test/replicas/two-replicas.test.ts: bg-agent app processes
 * (./_replica-app.ts) on one PostgreSQL schema, signed deliveries to them over loopback, and the
 * schema read back directly. The children get only the environment given here (no BG_* leaks
 * from the test's own environment).
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { createHmac, generateKeyPairSync, randomUUID } from "node:crypto";
import { Agent } from "node:http";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { TEST_DATABASE_URL } from "../helpers/postgres.js";
import { postWebhook } from "../helpers/post-webhook.js";

export const WEBHOOK_SECRET = "replicas-secret";

export interface Replica {
  name: string;
  port: number;
  /** The worker's lease owner (`tasks.lease_owner` of what it claimed). */
  owner: string;
  child: ChildProcess;
  /** Everything the process printed (for a failing test's message). */
  output(): string;
  /** SIGKILL, resolved once the process is gone. */
  kill(): Promise<void>;
  /** SIGTERM (a clean stop: loops, server, pool), SIGKILL after 10 s; resolved once gone. */
  stop(): Promise<void>;
}

export interface ReplicaEnv {
  schema: string;
  githubUrl: string;
  /** BG_WORKER and the loop's settings, the LLM's... any BG_* setting. */
  settings: Record<string, string>;
}

let key: string | undefined;
const privateKey = (): string =>
  (key ??= generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({
    type: "pkcs1",
    format: "pem",
  }) as string);

/** Starts one replica; resolves once it listens (its worker loop, if on, has started). */
export async function startReplica(name: string, o: ReplicaEnv): Promise<Replica> {
  const script = fileURLToPath(new URL("./_replica-app.ts", import.meta.url));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? "",
    ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}),
    NODE_ENV: "production",
    LOG_LEVEL: process.env.REPLICA_LOG_LEVEL ?? "error",
    APP_ID: "1",
    PRIVATE_KEY: privateKey(),
    WEBHOOK_SECRET,
    REPLICA_GITHUB_URL: o.githubUrl,
    DATABASE_URL: TEST_DATABASE_URL,
    BG_DB_SCHEMA: o.schema,
    BG_DB_POOL_SIZE: "5",
    ...o.settings,
  };
  const child = spawn(process.execPath, ["--import", "tsx", script], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const ready = await new Promise<{ port: number; owner: string }>((resolve, reject) => {
    const onData = () => {
      const m = /READY (\d+) (\S+)/.exec(out);
      if (m) {
        child.stdout!.off("data", onData);
        resolve({ port: Number(m[1]), owner: m[2]! });
      }
    };
    child.stdout!.on("data", onData);
    child.once("exit", (code, signal) =>
      reject(new Error(`replica ${name} exited (${code ?? signal}) before listening:\n${out}`)),
    );
  });
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  return {
    name,
    ...ready,
    child,
    output: () => out,
    async kill() {
      if (!gone()) child.kill("SIGKILL");
      await exited;
    },
    async stop() {
      if (gone()) return;
      child.kill("SIGTERM");
      const force = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(force);
    },
  };
}

export interface Delivery {
  id: string;
  name: string;
  body: string;
}

/** issues.labeled (tech-debt) for one issue of one repository, as GitHub delivers it. */
export function labelledIssue(
  repo: string,
  issue: { number: number; title: string; body: string },
  id: string = randomUUID(),
): Delivery {
  const [owner, name] = repo.split("/");
  const payload = {
    action: "labeled",
    issue: {
      ...issue,
      state: "open",
      html_url: `https://github.com/${repo}/issues/${issue.number}`,
      labels: [{ name: "tech-debt" }],
      user: { login: "dev", type: "User" },
    },
    label: { name: "tech-debt" },
    repository: {
      id: 1000,
      name,
      full_name: repo,
      default_branch: "main",
      owner: { login: owner, type: "Organization" },
    },
    installation: { id: 1 },
    sender: { login: "dev", type: "User" },
  };
  return { id, name: "issues", body: JSON.stringify(payload) };
}

const agent = new Agent({ keepAlive: true, maxSockets: 32 });

/** POSTs a signed delivery; resolves with the status and the JSON answer (status 0: no answer). */
export async function deliver(
  port: number,
  d: Delivery,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const signature = `sha256=${createHmac("sha256", WEBHOOK_SECRET).update(d.body).digest("hex")}`;
  const { status, text } = await postWebhook(port, agent, { ...d, signature });
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = status ? { text } : {};
  }
  return { status, body };
}

/** Runs `sql` against the replicas' schema (a connection of its own). */
export async function query<R extends pg.QueryResultRow>(
  schema: string,
  sql: string,
  params: unknown[] = [],
): Promise<R[]> {
  const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await c.connect();
  try {
    await c.query(`SET search_path TO "${schema}"`);
    return (await c.query<R>(sql, params)).rows;
  } finally {
    await c.end();
  }
}

/** Polls `check` until it returns a value (not undefined), or fails with `what` after `ms`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  ms = 20_000,
): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const closeDeliveryAgent = (): void => agent.destroy();

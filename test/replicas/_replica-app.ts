/**
 * One bg-agent replica as a real process for test/replicas/two-replicas.test.ts: createBgAgent
 * as src/main.ts composes it, on the PostgreSQL store named by DATABASE_URL and BG_DB_SCHEMA,
 * with the worker loop as BG_WORKER, BG_TICK_SECONDS and BG_LEASE_SECONDS say. Probot is pointed
 * at the test's loopback GitHub (REPLICA_GITHUB_URL) with retries and the write throttle off; the
 * LLM is BG_LLM_*. Prints `READY <port> <worker owner>` when listening; SIGTERM stops it cleanly.
 * Environment: APP_ID, PRIVATE_KEY, WEBHOOK_SECRET, REPLICA_GITHUB_URL, DATABASE_URL,
 * BG_DB_SCHEMA and the BG_* settings.
 */
import { Probot, ProbotOctokit } from "probot";
import { createBgAgent } from "../../src/compose.js";
import { readEnv } from "../../src/env.js";
import { openPostgresStore } from "../../src/store/postgres/index.js";
import type { Store } from "../../src/store/index.js";

const need = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is required`);
  return v;
};

const probot = new Probot({
  appId: Number(need("APP_ID")),
  privateKey: need("PRIVATE_KEY"),
  secret: need("WEBHOOK_SECRET"),
  baseUrl: need("REPLICA_GITHUB_URL"),
  logLevel: (process.env.LOG_LEVEL as "error" | undefined) ?? "error",
  // A function default keeps Probot's own `throttle` options per client (an object would lose
  // `enabled: false` to them and pace every write at 1 s).
  Octokit: ProbotOctokit.defaults((o: Record<string, unknown>) => ({
    ...o,
    retry: { enabled: false },
    throttle: { ...(o.throttle as object | undefined), enabled: false },
  })),
});
await probot.ready();

// The store until createBgAgent opens PostgreSQL from DATABASE_URL itself (feat/pgwire): the
// PgStore's tx handle has no nested tx, so it is not yet assignable to the async Store.
const store = (await openPostgresStore({
  url: need("DATABASE_URL"),
  schema: need("BG_DB_SCHEMA"),
})) as unknown as Store;

const agent = await createBgAgent({
  env: readEnv(process.env),
  processEnv: process.env,
  store,
  probot,
  identity: { login: "bg-agent[bot]" },
  retention: false,
});
const port = await agent.start(0, "127.0.0.1");
process.stdout.write(`READY ${port} ${agent.workerEnv.owner}\n`);

let stopping = false;
process.on("SIGTERM", () => {
  if (stopping) return;
  stopping = true;
  agent.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});

/**
 * The app as a real process for the crash tests (test/reliability/crash-harness.ts): createBgAgent
 * on a SQLite file (synchronous=NORMAL, WAL fsynced before each answer, as in
 * production), Probot pointed at a local fake GitHub. Prints `PORT <n>` when listening.
 * Environment: CRASH_DB, CRASH_SECRET, CRASH_PRIVATE_KEY, CRASH_GITHUB (base URL),
 * CRASH_WARM_REPOS (repositories whose config is cached: no GitHub read needed).
 */
import { Probot, ProbotOctokit } from "probot";
import { createBgAgent } from "../../src/compose.js";
import { parseConfig } from "../../src/config/load.js";
import { readEnv } from "../../src/env.js";
import { openStore } from "../../src/store/index.js";

const env = (name: string): string => {
  const v = process.env[name];
  if (v === undefined) throw new Error(`${name} is required`);
  return v;
};

const store = await openStore({ path: env("CRASH_DB") });
const raw = { automerge: { method: "merge" } };
const cfg = parseConfig(raw);
for (const repo of (process.env.CRASH_WARM_REPOS ?? "").split(",").filter(Boolean)) {
  await store.repos.upsert({ fullName: repo, installationId: 1, defaultBranch: "main" });
  await store.repos.setConfig(
    repo,
    { json: JSON.stringify(raw), hash: cfg.hash, valid: true, errors: [] },
    Date.now() + 3600_000,
  );
}
const probot = new Probot({
  appId: 1,
  privateKey: env("CRASH_PRIVATE_KEY"),
  secret: env("CRASH_SECRET"),
  baseUrl: env("CRASH_GITHUB"),
  logLevel: "fatal",
  Octokit: ProbotOctokit.defaults({ retry: { enabled: false }, throttle: { enabled: false } }),
});
await probot.ready();
// Composed as src/main.ts composes it; the worker runs elsewhere (BG_WORKER=off).
const agent = await createBgAgent({
  env: readEnv({ BG_DB_PATH: env("CRASH_DB"), BG_WORKER: "off" }),
  processEnv: {},
  store,
  probot,
  identity: {},
  retention: false,
});
const port = await agent.start(0, "127.0.0.1");
console.log(`PORT ${port}`);

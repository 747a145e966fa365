/**
 * A worker process for the crash tests: the real store on a SQLite file, the real worker pass
 * (runPass) and processors, GitHub and the LLM over HTTP (loopback servers the test runs). One
 * pass, its summary as JSON on stdout. The test kills it with SIGKILL mid-batch or mid-merge.
 *
 *   BG_DB_PATH, GITHUB_API_URL, BG_LLM_BASE_URL, BG_CONFIG_JSON, BG_LEASE_MS, BG_MODE,
 *   BG_WORKSPACE, BG_OWNER
 */
import { parseConfig } from "../../src/config/load.js";
import { createTokenClient } from "../../src/integrations/github.js";
import { streamLogger } from "../../src/cli/log.js";
import { createProcessors } from "../../src/processors/index.js";
import { openStore } from "../../src/store/index.js";
import { runPass } from "../../src/worker/pass.js";
import { createRunState } from "../../src/core/run-state.js";
import type { Mode, WorkerEnv } from "../../src/core/worker-contract.js";

const e = process.env;
const need = (k: string): string => {
  const v = e[k];
  if (!v) throw new Error(`crash-worker: ${k} is not set`);
  return v;
};

const store = await openStore({ path: need("BG_DB_PATH") });
const octokit = createTokenClient({
  token: "ghs_crash",
  baseUrl: need("GITHUB_API_URL"),
  // bg-agent's retry policy as shipped; backoff scaled down, no 1 s pacing of writes.
  retries: true,
  throttle: false,
  retryBaseMs: 1,
});
const config = parseConfig(JSON.parse(e.BG_CONFIG_JSON ?? "{}") as unknown);
const env: WorkerEnv = {
  store,
  log: streamLogger("warn", (line) => process.stderr.write(line)),
  github: async () => octokit,
  config: async () => config,
  llm: {
    provider: "openai",
    model: "gpt-4o-mini",
    apiKey: "sk-crash",
    baseUrl: need("BG_LLM_BASE_URL"),
  },
  dryRun: false,
  run: createRunState(),
  ...(e.BG_WORKSPACE ? { workspace: e.BG_WORKSPACE } : {}),
  owner: e.BG_OWNER ?? `crash-worker:${process.pid}`,
};
const summary = await runPass(env, createProcessors(), {
  repo: "octo/demo",
  mode: (e.BG_MODE ?? "all") as Mode,
  leaseMs: Number(e.BG_LEASE_MS ?? 600_000),
});
await store.close();
process.stdout.write(`${JSON.stringify(summary)}\n`);

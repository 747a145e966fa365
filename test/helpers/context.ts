import { parseConfig } from "../../src/config/load.js";
import type { ConfigResult } from "../../src/config/load.js";
import { createTokenClient, parseRepo } from "../../src/integrations/github.js";
import type { GitHubClient } from "../../src/integrations/github.js";
import type { Llm } from "../../src/llm/types.js";
import { silentLogger } from "../../src/log.js";
import type { Logger } from "../../src/log.js";
import type { Store } from "../../src/store/index.js";
import { createRunState } from "../../src/core/run-state.js";
import type { ProcessorContext, WorkerEnv } from "../../src/core/worker-contract.js";

/** A GitHub client for nock: api.github.com, no retries, no throttling. */
export const testOctokit = (): GitHubClient =>
  createTokenClient({ token: "ghs_test", baseUrl: "https://api.github.com", retries: false });

export interface TestEnvOptions {
  /** The raw `.github/bg-agent.yml` content (null: no file). */
  config?: unknown;
  llm?: Llm;
  dryRun?: boolean;
  log?: Logger;
  workspace?: string;
  runCapUsd?: number;
  octokit?: GitHubClient;
}

/** A worker environment on a store, with config given inline instead of fetched. */
export function testEnv(store: Store, o: TestEnvOptions = {}): WorkerEnv {
  const octokit = o.octokit ?? testOctokit();
  const result: ConfigResult = parseConfig(o.config ?? null);
  return {
    store,
    log: o.log ?? silentLogger,
    github: async () => octokit,
    config: async () => result,
    llm: {
      provider: "openai",
      model: "gpt-4o-mini",
      apiKey: "sk-test",
      baseUrl: "https://api.openai.com/v1",
      // Generous app-level limits, so the shared limiter never waits in tests.
      rateLimit: { rpm: 10_000, tpm: 100_000_000 },
    },
    ...(o.llm ? { createLlm: () => o.llm! } : {}),
    dryRun: o.dryRun ?? false,
    run: createRunState(),
    ...(o.workspace ? { workspace: o.workspace } : {}),
    ...(o.runCapUsd !== undefined ? { runCapUsd: o.runCapUsd } : {}),
    owner: "test-worker",
  };
}

/** A processor context for one repository. */
export async function testCtx(
  store: Store,
  repo = "octo/demo",
  o: TestEnvOptions = {},
): Promise<ProcessorContext> {
  const env = testEnv(store, o);
  const octokit = await env.github(repo);
  const configResult = await env.config(repo, octokit);
  if (!configResult.ok)
    throw new Error(`test config invalid: ${JSON.stringify(configResult.problems)}`);
  return {
    repo: parseRepo(repo),
    repoName: repo,
    octokit,
    config: configResult.config,
    configResult,
    store,
    log: env.log,
    env,
  };
}

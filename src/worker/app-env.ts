import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { fetchConfig, getRepoConfig } from "../config/fetch.js";
import type { BgEnv } from "../env.js";
import { parseRepo } from "../integrations/github.js";
import { createLinearGateway } from "../integrations/linear.js";
import type { GitHubClient } from "../integrations/github.js";
import { llmSettingsFromEnv } from "../llm/settings.js";
import type { Logger } from "../log.js";
import { redactingLogger } from "../log.js";
import type { Store } from "../store/index.js";
import { createRunState } from "../core/run-state.js";
import type { WorkerEnv } from "../core/worker-contract.js";

/** What the app's worker environment needs of Probot. */
export interface AppAuth {
  /** No id: the app itself (JWT); an installation id: that installation's token client. */
  auth(installationId?: number): Promise<unknown>;
}

export interface AppEnvOptions {
  probot: AppAuth;
  store: Store;
  log: Logger;
  env: BgEnv;
  processEnv?: NodeJS.ProcessEnv;
  /** The app's own login, filled in once GitHub answered (main.ts). */
  identity?: { login?: string };
}

/**
 * The app's WorkerEnv: GitHub clients from installation tokens (the installation id comes from
 * the store, or from GitHub when the repository is not known yet), the config through the
 * store's cache, LLM settings from BG_LLM_*, and Linear when LINEAR_API_KEY is set.
 */
export function createAppWorkerEnv(o: AppEnvOptions): WorkerEnv {
  const installationOf = async (repo: string): Promise<number> => {
    const known = await o.store.repos.get(repo);
    if (known?.installationId && known.installed) return known.installationId;
    const app = (await o.probot.auth()) as GitHubClient;
    const { data } = await app.rest.apps.getRepoInstallation({ ...parseRepo(repo) });
    await o.store.repos.upsert({ fullName: repo, installationId: data.id });
    return data.id;
  };
  return {
    store: o.store,
    log: redactingLogger(o.log.child({ name: "worker" })),
    github: async (repo) => (await o.probot.auth(await installationOf(repo))) as GitHubClient,
    config: (repo, octokit) =>
      getRepoConfig(o.store, repo, () =>
        fetchConfig(octokit, parseRepo(repo), o.env.BG_CONFIG_EXTENDS_ALLOW),
      ),
    llm: llmSettingsFromEnv(o.processEnv ?? process.env),
    run: createRunState(),
    ...(o.env.LINEAR_API_KEY
      ? {
          linear: createLinearGateway({
            apiKey: o.env.LINEAR_API_KEY,
            ...(o.env.BG_LINEAR_API_URL ? { apiUrl: o.env.BG_LINEAR_API_URL } : {}),
          }),
        }
      : {}),
    dryRun: false,
    owner: `app:${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
    ...(o.env.BG_PUBLIC_URL ? { publicUrl: o.env.BG_PUBLIC_URL } : {}),
    ...(o.identity ? { selfLogin: () => o.identity?.login } : {}),
  };
}

import type { GitHubClient, RepoRef } from "../integrations/github.js";
import type { Store } from "../store/index.js";
import { hashOf } from "../util/hash.js";
import { CONFIG_PATH, parseConfig } from "./load.js";
import type { ConfigResult } from "./load.js";
import type { ExtendsAllow } from "./extends.js";
import { ConfigSourceError, readConfigChain } from "./extends.js";
import { errText } from "../util/errors.js";

/** How long a cached config is trusted when no push event invalidated it. */
export const CONFIG_TTL_MS = 5 * 60_000;

/**
 * Loads `.github/bg-agent.yml` (or `path`) from the default branch, with `_extends` limited to
 * the repository's owner and `allow` (src/config/extends.ts). A refused source or a broken file
 * is a failed result naming it; GitHub failing to answer is one too (`(file)`: could not be read).
 */
export async function fetchConfig(
  octokit: GitHubClient,
  ref: RepoRef,
  allow: ExtendsAllow = [],
  path = CONFIG_PATH,
): Promise<ConfigResult> {
  try {
    const config = await readConfigChain(octokit, ref, path, allow);
    const empty = config === null || Object.keys(config).length === 0;
    return parseConfig(empty ? null : config);
  } catch (e) {
    if (e instanceof ConfigSourceError) return sourceProblem(e);
    // A YAML syntax error surfaces here: report it like any other problem.
    return {
      ok: false,
      found: true,
      hash: `error:${errText(e)}`.slice(0, 64),
      raw: null,
      problems: [
        {
          path: "(file)",
          message: `could not be read: ${errText(e).replace(/^\[@probot\/octokit-plugin-config\]\s*/, "")}`,
        },
      ],
    };
  }
}

/** A refused `_extends` source or a broken file, as a failed result (hash: its message). */
export function sourceProblem(e: ConfigSourceError): ConfigResult {
  return {
    ok: false,
    found: true,
    hash: hashOf({ error: e.message }),
    raw: null,
    problems: [{ path: e.path, message: e.message }],
  };
}

/** The repository's cached config when it is fresh (younger than CONFIG_TTL_MS), else undefined. */
export async function cachedRepoConfig(
  store: Store,
  repo: string,
  now = Date.now(),
): Promise<ConfigResult | undefined> {
  const cached = await store.repos.get(repo);
  if (!cached?.configLoadedAt || now - cached.configLoadedAt >= CONFIG_TTL_MS || !cached.configHash)
    return undefined;
  if (!cached.configValid) {
    return {
      ok: false,
      found: true,
      hash: cached.configHash,
      raw: null,
      problems: cached.configErrors.map((e) => {
        const i = e.indexOf(": ");
        return { path: e.slice(0, i), message: e.slice(i + 2) };
      }),
    };
  }
  return parseConfig(
    cached.configJson === null ? null : (JSON.parse(cached.configJson) as unknown),
  );
}

/** Caches a freshly read config for a repository (one synchronous write). */
export async function cacheRepoConfig(
  store: Store,
  repo: string,
  result: ConfigResult,
  now = Date.now(),
): Promise<void> {
  await store.repos.setConfig(
    repo,
    {
      json: result.raw === null || result.raw === undefined ? null : JSON.stringify(result.raw),
      hash: result.hash,
      valid: result.ok,
      errors: result.problems.map((p) => `${p.path}: ${p.message}`),
    },
    now,
  );
}

/**
 * The repository's config, from the store's cache when fresh, else from GitHub (and cached).
 * `load` defaults to fetchConfig; the app passes context.config's loader in handlers.
 */
export async function getRepoConfig(
  store: Store,
  repo: string,
  load: () => Promise<ConfigResult>,
  now = Date.now(),
): Promise<ConfigResult> {
  const cached = await cachedRepoConfig(store, repo, now);
  if (cached) return cached;
  const result = await load();
  await cacheRepoConfig(store, repo, result, now);
  return result;
}

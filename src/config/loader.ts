/**
 * Where a repository's `.github/bg-agent.yml` is loaded, for both sides of bg-agent: the app's
 * intake (`configLoader`: through the store's cache, reported once per content hash) and a
 * one-shot run (`loadRunConfig`: the default branch through the API, never the workspace).
 */
import { ConfigSourceError } from "./extends.js";
import type { ExtendsAllow } from "./extends.js";
import {
  CONFIG_TTL_MS,
  cacheRepoConfig,
  cachedRepoConfig,
  fetchConfig,
  sourceProblem,
} from "./fetch.js";
import { CONFIG_PATH, parseConfig } from "./load.js";
import type { ConfigProblem, ConfigResult } from "./load.js";
import { httpStatus } from "../integrations/github.js";
import type { GitHubClient, RepoRef } from "../integrations/github.js";
import type { Logger } from "../log.js";
import type { Store } from "../store/index.js";
import type { RepositoryBrief } from "../store/repositories.js";
import { errText } from "../util/errors.js";
import { hashOf } from "../util/hash.js";

// ---- intake: the store's cached config, else the file, validated, reported and cached ----

export interface ConfigLoaderOptions {
  store: Store;
  log: Logger;
  repo: string;
  /**
   * Reads the merged raw config, null when there is no file: `readConfigChain` (default branch,
   * `_extends` within the owner and BG_CONFIG_EXTENDS_ALLOW) in the app.
   */
  read(): Promise<unknown>;
  /** Sees every result (cached or fresh): reports an invalid file once per hash (config-check.ts). */
  report?(result: ConfigResult): Promise<void>;
}

export interface LoadConfigOptions {
  /** Read the file from GitHub even when the cached copy is fresh (a push changed it). */
  refresh?: boolean;
}

/** Configs this process validated, by store and repository (parsing the cached JSON each event is wasted work). */
const memos = new WeakMap<Store, Map<string, { hash: string; result: ConfigResult }>>();
const parsed = (store: Store): Map<string, { hash: string; result: ConfigResult }> => {
  let m = memos.get(store);
  if (!m) memos.set(store, (m = new Map()));
  return m;
};

/** True for errors that mean "the file is broken" (bad YAML, a directory), not "GitHub did not answer". */
export function isConfigFileError(e: unknown): boolean {
  if (e instanceof ConfigSourceError) return true;
  return httpStatus(e) === undefined && /\[@probot\/octokit-plugin-config\]/.test(errText(e));
}

const problemsOf = (errors: string[]): ConfigProblem[] =>
  errors.map((e) => {
    const i = e.indexOf(": ");
    return i < 0
      ? { path: "(file)", message: e }
      : { path: e.slice(0, i), message: e.slice(i + 2) };
  });

/** The last config cached for a repository, however old, or undefined. */
export async function lastKnownConfig(
  store: Store,
  repo: string,
): Promise<ConfigResult | undefined> {
  const r = await store.repos.get(repo);
  if (!r?.configHash) return undefined;
  if (!r.configValid)
    return {
      ok: false,
      found: true,
      hash: r.configHash,
      raw: null,
      problems: problemsOf(r.configErrors),
    };
  return parseConfig(r.configJson === null ? null : (JSON.parse(r.configJson) as unknown));
}

/**
 * The `loadConfig` intake handlers get: the store's cached config, else `read()` validated and
 * cached. A broken file is a config problem (reported, no new work); GitHub failing to answer is
 * not: then the last known config (or the defaults) is used for this event and nothing is cached,
 * so the worker, which re-reads the config before acting, has the final word.
 */
export function configLoader(
  o: ConfigLoaderOptions,
): (known?: RepositoryBrief, opts?: LoadConfigOptions) => Promise<ConfigResult> {
  let memo: Promise<ConfigResult> | undefined;
  const fresh = async (): Promise<ConfigResult> => {
    try {
      return parseConfig((await o.read()) ?? null);
    } catch (e) {
      if (!isConfigFileError(e)) throw e;
      if (e instanceof ConfigSourceError) return sourceProblem(e);
      const message = errText(e).replace(/^\[@probot\/octokit-plugin-config\]\s*/, "");
      return {
        ok: false,
        found: true,
        hash: hashOf({ error: message }),
        raw: null,
        problems: [{ path: "(file)", message }],
      };
    }
  };
  const load = async (known?: RepositoryBrief, refresh = false): Promise<ConfigResult> => {
    // Fast path: the row is fresh and this process already validated that exact config.
    const row = known ?? (await o.store.repos.brief(o.repo));
    const memo = parsed(o.store).get(o.repo.toLowerCase());
    if (
      !refresh &&
      row?.configLoadedAt &&
      row.configHash &&
      Date.now() - row.configLoadedAt < CONFIG_TTL_MS &&
      memo?.hash === row.configHash
    ) {
      const clean = memo.result.ok && memo.result.problems.length === 0;
      const reported =
        row.configReportedHash === row.configHash || (clean && !row.configReportedHash);
      if (reported || !o.report) return memo.result;
    }
    const cached = refresh ? undefined : await cachedRepoConfig(o.store, o.repo);
    let result: ConfigResult;
    try {
      result = cached ?? (await fresh());
    } catch (e) {
      o.log.warn(
        { err: e },
        "could not read .github/bg-agent.yml from GitHub; using the last known config",
      );
      if (refresh) await o.store.repos.invalidateConfig(o.repo); // the next event reads it again
      return (await lastKnownConfig(o.store, o.repo)) ?? parseConfig(null);
    }
    if (o.report) {
      try {
        await o.report(result);
      } catch (e) {
        o.log.warn({ err: e }, "could not report the config's problems");
      }
    }
    // Written after the last await (the read from GitHub, the check run): a delivery's writes
    // all happen in one synchronous block with its record (see src/server.ts), so a group
    // commit never holds half of them.
    if (!cached) await cacheRepoConfig(o.store, o.repo, result);
    parsed(o.store).set(o.repo.toLowerCase(), { hash: result.hash, result });
    return result;
  };
  return (known, opts) => {
    if (opts?.refresh) return (memo = load(known, true));
    return (memo ??= load(known));
  };
}

// ---- a one-shot run (the Action, the CLI): the default branch through the API ----

export interface LoadedConfig {
  result: ConfigResult;
  /** Where it came from: the default branch through the API, or nowhere (defaults). */
  source: "api" | "defaults";
  path: string;
}

const problem = (path: string, message: string): ConfigResult => ({
  ok: false,
  found: true,
  hash: `error:${message}`.slice(0, 64),
  raw: null,
  problems: [{ path, message }],
});

/**
 * The run's config: `configPath` (default `.github/bg-agent.yml`) from the repository's DEFAULT
 * branch through the API, with `_extends` limited to the repository's owner and `extendsAllow`,
 * else the defaults. Never the checked-out workspace: a runner may have checked out a pull
 * request's head or another branch, whose config (the fix test command, the automerge policy)
 * is not the owner's.
 */
export async function loadRunConfig(o: {
  octokit: GitHubClient;
  ref: RepoRef;
  configPath?: string | undefined;
  extendsAllow?: ExtendsAllow | undefined;
}): Promise<LoadedConfig> {
  const path = (o.configPath?.trim() || CONFIG_PATH).replace(/^\.?\//, "");
  if (path.split("/").some((p) => p === ".." || p === "") || !/\.ya?ml$/i.test(path)) {
    return {
      result: problem(
        "(file)",
        `config-path ${path} must be a .yml file in the repository (a path like .github/bg-agent.yml)`,
      ),
      source: "api",
      path,
    };
  }
  const result = await fetchConfig(o.octokit, o.ref, o.extendsAllow ?? [], path);
  return { result, source: result.found ? "api" : "defaults", path };
}

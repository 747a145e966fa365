import type { ExtendsAllow } from "../config/extends.js";
import { fetchConfig } from "../config/fetch.js";
import type { ConfigResult } from "../config/load.js";
import { CONFIG_PATH } from "../config/load.js";
import type { GitHubClient, RepoRef } from "../integrations/github.js";

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

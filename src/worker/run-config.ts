import { existsSync, readFileSync, statSync } from "node:fs";
import { isAbsolute, relative, resolve } from "node:path";
import { config as configPlugin } from "@probot/octokit-plugin-config";
import YAML from "yaml";
import { fetchConfig } from "../config/fetch.js";
import type { ConfigResult } from "../config/load.js";
import { CONFIG_PATH, parseConfig } from "../config/load.js";
import { MAX_CONFIG_BYTES, tooLargeMessage } from "../config/size.js";
import type { GitHubClient, RepoRef } from "../integrations/github.js";

export interface LoadedConfig {
  result: ConfigResult;
  /** Where it came from: the checked-out workspace, the API, or nowhere (defaults). */
  source: "workspace" | "api" | "defaults";
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
 * The run's config: `configPath` (default `.github/bg-agent.yml`) from the checked-out workspace
 * when it is there, else from the default branch through the API (with `_extends`), else the
 * defaults. A workspace file that uses `_extends` is read through the API, which resolves it.
 */
export async function loadRunConfig(o: {
  octokit: GitHubClient;
  ref: RepoRef;
  workspace?: string | undefined;
  configPath?: string | undefined;
}): Promise<LoadedConfig> {
  const path = (o.configPath?.trim() || CONFIG_PATH).replace(/^\.?\//, "");
  if (o.workspace) {
    const file = resolve(o.workspace, path);
    const rel = relative(resolve(o.workspace), file);
    if (rel.startsWith("..") || isAbsolute(rel)) {
      return {
        result: problem("(file)", `config-path ${path} is outside the workspace`),
        source: "workspace",
        path,
      };
    }
    if (existsSync(file)) {
      const bytes = statSync(file).size;
      if (bytes > MAX_CONFIG_BYTES)
        return {
          result: problem("(file)", tooLargeMessage(path, bytes)),
          source: "workspace",
          path,
        };
      let raw: unknown;
      try {
        raw = YAML.parse(readFileSync(file, "utf8")) as unknown;
      } catch (e) {
        return {
          result: problem("(file)", `${path} is not valid YAML: ${(e as Error).message}`),
          source: "workspace",
          path,
        };
      }
      const extendsOther = raw !== null && typeof raw === "object" && "_extends" in raw;
      if (!extendsOther) return { result: parseConfig(raw ?? null), source: "workspace", path };
    }
  }
  let result: ConfigResult;
  if (path === CONFIG_PATH) result = await fetchConfig(o.octokit, o.ref);
  else {
    try {
      const { config } = await configPlugin(o.octokit).config.get({ ...o.ref, path });
      result = parseConfig(Object.keys(config).length === 0 ? null : config);
    } catch (e) {
      result = problem("(file)", `could not be read: ${(e as Error).message}`);
    }
  }
  return { result, source: result.found ? "api" : "defaults", path };
}

import YAML from "yaml";
import { z } from "zod";
import type { GitHubClient, RepoRef } from "../integrations/github.js";
import { httpStatus } from "../integrations/github.js";
import { MAX_CONFIG_BYTES, tooLargeMessage } from "./size.js";
import { errText } from "../util/errors.js";

/**
 * Owners (`acme`) or repositories (`acme/base`) other than a repository's own owner whose config
 * files `_extends` may name: `BG_CONFIG_EXTENDS_ALLOW` (the app, the CLI) or the Action's
 * `config-extends-allow` input. Lower-cased; empty: the repository's own owner only.
 */
export type ExtendsAllow = readonly string[];

const allowEntry = z
  .string()
  .regex(
    /^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}(?:\/[A-Za-z0-9_.-]+)?$/,
    "an owner (acme) or a repository (acme/base)",
  );

/** Parses a comma-separated allowlist; throws naming the bad entry. */
export function parseExtendsAllow(
  text: string | undefined,
  name = "BG_CONFIG_EXTENDS_ALLOW",
): string[] {
  const entries = (text ?? "")
    .split(/[,\s]+/)
    .map((s) => s.trim())
    .filter(Boolean);
  for (const e of entries) {
    const r = allowEntry.safeParse(e);
    if (!r.success)
      throw new Error(
        `${name}: "${e}" is not an owner (acme) or a repository (acme/base); separate entries with commas`,
      );
  }
  return entries.map((e) => e.toLowerCase());
}

/**
 * A config that cannot be used as it is: a refused `_extends` source (`path` is `_extends`) or
 * a file that is not a YAML mapping (`(file)`). Reported like a schema problem: a failed
 * `bg-agent/config` check run, no new work.
 */
export class ConfigSourceError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
    this.name = "ConfigSourceError";
  }
}

interface Source {
  owner: string;
  repo: string;
  path: string;
}
const where = (s: Source) => `${s.owner}/${s.repo}:${s.path}`;

/** Probot's `_extends` syntax: `[owner/]repo[:path.yml]`. */
const EXTENDS =
  /^(?:([a-z\d](?:[a-z\d]|-(?=[a-z\d])){0,38})\/)?([-_.\w\d]+)(?::([-_./\w\d]+\.ya?ml))?$/i;

/** The most files one config may be assembled from (its own and the bases it extends). */
export const MAX_EXTENDS = 10;

/** Whether `_extends` may name `target` in a config of `home` (a repository of `home.owner`). */
export function extendsAllowed(home: RepoRef, target: RepoRef, allow: ExtendsAllow): boolean {
  const owner = target.owner.toLowerCase();
  if (owner === home.owner.toLowerCase()) return true;
  return allow.includes(owner) || allow.includes(`${owner}/${target.repo.toLowerCase()}`);
}

/**
 * One config file from the DEFAULT branch of its repository (no `ref`: GitHub serves the default
 * branch), parsed; null when there is none.
 */
async function readFile(octokit: GitHubClient, s: Source): Promise<Record<string, unknown> | null> {
  let data: unknown;
  let headers: Record<string, unknown>;
  try {
    const res = await octokit.request("GET /repos/{owner}/{repo}/contents/{path}", {
      owner: s.owner,
      repo: s.repo,
      path: s.path,
      mediaType: { format: "raw" },
    });
    data = res.data;
    headers = res.headers as Record<string, unknown>;
  } catch (e) {
    if (httpStatus(e) === 404) return null;
    throw e;
  }
  if (String(headers["content-type"] ?? "").startsWith("application/json"))
    throw new ConfigSourceError("(file)", `${where(s)} is a directory or a submodule, not a file`);
  const text = typeof data === "string" ? data : String(data);
  const bytes = Buffer.byteLength(text);
  // Parsing is bounded by the cap: a file of many keys parses in quadratic time.
  if (bytes > MAX_CONFIG_BYTES)
    throw new ConfigSourceError("(file)", tooLargeMessage(where(s), bytes));
  let parsed: unknown;
  try {
    parsed = YAML.parse(text, { logLevel: "error" });
  } catch (e) {
    throw new ConfigSourceError("(file)", `${where(s)} is not valid YAML: ${errText(e)}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== "object" || Array.isArray(parsed))
    throw new ConfigSourceError("(root)", `${where(s)} must be a YAML mapping`);
  return parsed as Record<string, unknown>;
}

/**
 * A repository's config as Probot's `context.config` assembles it (its own file, else its
 * owner's `.github` repository's; then each `_extends` base, deep-merged: see deepMerge),
 * with two rules Probot lacks: every file is read from its repository's default branch, and
 * `_extends` may name only repositories of the same owner, or owners/repositories in `allow` —
 * at every step of the chain. A refused source throws ConfigSourceError (path `_extends`).
 * Null: no file anywhere. GitHub failing (not a 404) throws its error unchanged.
 */
export async function readConfigChain(
  octokit: GitHubClient,
  home: RepoRef,
  path: string,
  allow: ExtendsAllow = [],
): Promise<Record<string, unknown> | null> {
  const first: Source = { owner: home.owner, repo: home.repo, path };
  let config = await readFile(octokit, first);
  let at = first;
  if (config === null && home.repo !== ".github") {
    at = { owner: home.owner, repo: ".github", path };
    config = await readFile(octokit, at);
  }
  if (config === null) return null;
  const layers: Record<string, unknown>[] = [];
  const seen = new Set([where(at).toLowerCase()]);
  let current: Record<string, unknown> = config;
  for (;;) {
    const { _extends: ext, ...rest } = current;
    layers.push(rest);
    if (ext === undefined || ext === null) break;
    const m = typeof ext === "string" ? EXTENDS.exec(ext.trim()) : null;
    if (!m || /^\.+$/.test(m[2]!) || (m[3] ?? "").split("/").includes(".."))
      throw new ConfigSourceError(
        "_extends",
        `_extends: ${JSON.stringify(ext)} in ${where(at)} is not [owner/]repo[:path.yml]`,
      );
    const next: Source = { owner: m[1] ?? home.owner, repo: m[2]!, path: m[3] ?? path };
    if (!extendsAllowed(home, next, allow))
      throw new ConfigSourceError(
        "_extends",
        `refused source ${where(next)} (_extends: ${ext} in ${where(at)}): bg-agent reads ${home.owner}/${home.repo}'s configuration only from repositories of ${home.owner}; an admin of the app can allow another owner or repository with BG_CONFIG_EXTENDS_ALLOW (the Action: config-extends-allow)`,
      );
    const key = where(next).toLowerCase();
    if (seen.has(key))
      throw new ConfigSourceError(
        "_extends",
        `_extends: ${ext} in ${where(at)} names ${where(next)}, which is already part of this configuration (a loop)`,
      );
    if (seen.size >= MAX_EXTENDS)
      throw new ConfigSourceError(
        "_extends",
        `more than ${MAX_EXTENDS} files extend each other (at ${where(next)}): flatten the chain`,
      );
    seen.add(key);
    const base = await readFile(octokit, next);
    // A base that does not exist (or bg-agent cannot see) adds nothing, as in Probot.
    if (base === null) break;
    at = next;
    current = base;
  }
  return layers.reverse().reduce<Record<string, unknown>>((acc, l) => deepMerge(acc, l), {});
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * Probot's merge of config layers (the `deepmerge` module's defaults): mappings merged key by
 * key, lists concatenated (the base's items first), anything else: the nearer file's value.
 */
export function deepMerge(base: unknown, over: unknown): Record<string, unknown> {
  const merge = (a: unknown, b: unknown): unknown => {
    if (Array.isArray(a) && Array.isArray(b)) return [...a, ...b];
    if (isObject(a) && isObject(b)) {
      const out: Record<string, unknown> = { ...a };
      for (const [k, v] of Object.entries(b)) {
        if (k === "__proto__") continue; // no key of a config file reaches a prototype
        out[k] = Object.hasOwn(a, k) ? merge(a[k], v) : v;
      }
      return out;
    }
    return b;
  };
  return merge(isObject(base) ? base : {}, over) as Record<string, unknown>;
}

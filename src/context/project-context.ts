import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import picomatch from "picomatch";
import { runSlot } from "../core/run-state.js";
import type { Logger } from "../log.js";
import { silentLogger } from "../log.js";
import type { MapFile, RepoMap } from "./repo-map/build.js";
import { buildRepoMap } from "./repo-map/build.js";
import type { ProcessorContext } from "../core/worker-contract.js";
import { removeInvisible } from "./hidden-text.js";
import { binaryByName, languageOf } from "./repo-map/languages.js";
import type { TokenCounter } from "../llm/tokens.js";
import { DEFAULT_COUNTER, counterFor } from "../llm/tokens.js";
import { repoHead } from "./repo-head.js";

/**
 * The repository as the model sees it, in front of every analysis call. Byte-stable: the same
 * code gives the same text, so it is an identical prefix in every call of a run and across
 * runs, which is what provider prompt caches key on.
 */
export interface ProjectContext {
  text: string;
  /** Tokens by the model's tokenizer (src/llm/tokens.ts). */
  tokens: number;
  /** The commit it was built from, when known. */
  commit: string | null;
  source: "workspace" | "api";
  files: number;
  truncated: boolean;
  /** The repository map in the text and what it covers; null when there is none (map_tokens 0). */
  map: RepoMap | null;
  /** Whole files added after the map so the prefix clears the providers' cache minimum. */
  fullFiles: string[];
  /** Every file path, sorted (issue text resolves paths against it). */
  paths: string[];
  /** Reads a file of the same commit (text files up to 256 KB; null otherwise). */
  read(path: string): Promise<string | null>;
}

/** What a context is built from, however it was read. */
export interface ContextSource {
  repo: string;
  commit: string | null;
  /** Every file path, any order (sorted here). */
  paths: string[];
  read(path: string): Promise<string | null>;
  /** The files the repository map may read (default: none, no map). */
  mapFiles?(): MapFile[];
}

/** The prefix the map fills up to with whole files when it has room: every provider's cache minimum (4,096) with margin. */
export const MIN_PREFIX_TOKENS = 4_600;

const SKIP_DIRS = new Set([
  ".git",
  "node_modules",
  ".hg",
  ".svn",
  "dist",
  "build",
  "coverage",
  ".next",
  "vendor",
]);
const MAX_FILES = 50_000;
/** Files the map reads through the API at most (one contents request each). */
export const API_MAP_FILES = 300;
const MAX_FILE_BYTES = 256 * 1024;
/** Shares of the budget: README, CONTRIBUTING and the tree are capped so the globs get room. */
const SHARE = { readme: 0.3, contributing: 0.15, tree: 0.35 };

/** Code-unit order, not locale order: the same on every machine. */
const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

const findRoot = (paths: string[], names: RegExp): string | undefined =>
  paths
    .filter((p) => names.test(p))
    .sort((a, b) => a.split("/").length - b.split("/").length || byCodeUnit(a, b))[0];

function cut(text: string, max: number, what: string): { text: string; truncated: boolean } {
  if (text.length <= max) return { text, truncated: false };
  const note = `\n[… ${what} truncated at ${max} of ${text.length} characters]`;
  return { text: text.slice(0, Math.max(0, max - note.length)) + note, truncated: true };
}

export interface AssembleOptions {
  include: string[];
  maxTokens: number;
  mapTokens?: number;
  log?: Logger;
  counter?: TokenCounter;
}

/**
 * Assembles the context text from a source within `maxTokens`, counted by `counter` (the model's
 * tokenizer): assembled for a character budget, counted, and assembled again with the budget
 * scaled by what the count says (at most three times; files are read once).
 */
export async function assembleContext(
  src: ContextSource,
  o: AssembleOptions,
): Promise<Omit<ProjectContext, "source">> {
  const counter = o.counter ?? DEFAULT_COUNTER;
  const read = new Map<string, Promise<string | null>>();
  const once: ContextSource = {
    ...src,
    read(path) {
      let r = read.get(path);
      if (!r) read.set(path, (r = src.read(path)));
      return r;
    },
  };
  // The map is built once per budget: a second round with a smaller character budget reuses it.
  const maps = new Map<number, Promise<RepoMap>>();
  const mapOf = (files: MapFile[], budget: number): Promise<RepoMap> => {
    let m = maps.get(budget);
    if (!m)
      maps.set(
        budget,
        (m = buildRepoMap(files, { maxTokens: budget, log: o.log ?? silentLogger })),
      );
    return m;
  };
  let maxChars = o.maxTokens * 4;
  let best: Omit<ProjectContext, "source"> | null = null;
  for (let round = 0; round < 3; round++) {
    const c = await assembleOnce(once, o, counter, mapOf, maxChars);
    const tokens = counter.count(c.text);
    const fits = tokens <= o.maxTokens;
    if (fits && (!best || tokens > best.tokens)) best = { ...c, tokens };
    // Within 5 % under the budget, or nothing was cut: done.
    if (fits && (!c.truncated || tokens >= o.maxTokens * 0.95)) break;
    maxChars = Math.floor((maxChars * o.maxTokens * 0.98) / Math.max(1, tokens));
  }
  if (best) return best;
  const last = await assembleOnce(once, o, counter, mapOf, Math.floor(maxChars * 0.8));
  return { ...last, tokens: counter.count(last.text) };
}

async function assembleOnce(
  src: ContextSource,
  o: AssembleOptions,
  counter: TokenCounter,
  mapOf: (files: MapFile[], budget: number) => Promise<RepoMap>,
  maxChars: number,
): Promise<Omit<ProjectContext, "source" | "tokens">> {
  const paths = [...new Set(src.paths)].sort(byCodeUnit);
  const parts: string[] = [`# Project ${src.repo}\n`];
  let used = parts[0]!.length;
  let truncated = false;
  const add = (title: string, body: string, cap: number): void => {
    const room = Math.min(cap, maxChars - used) - title.length - 2;
    if (room < 200) {
      truncated = true;
      return;
    }
    const c = cut(body.replace(/\r\n/g, "\n").trimEnd(), room, title.replace(/^#+ /, ""));
    truncated ||= c.truncated;
    const piece = `${title}\n${c.text}\n\n`;
    parts.push(piece);
    used += piece.length;
  };

  const readme = findRoot(paths, /(^|\/)readme(\.(md|markdown|rst|txt))?$/i);
  const readmeRoot = readme && !readme.includes("/") ? readme : undefined;
  const contributing = findRoot(
    paths,
    /^(\.github\/|docs\/)?contributing(\.(md|markdown|rst|txt))?$/i,
  );
  const shown = new Set<string>();
  for (const [path, share] of [
    [readmeRoot, SHARE.readme],
    [contributing, SHARE.contributing],
  ] as const) {
    if (!path) continue;
    const text = await src.read(path);
    if (text === null) continue;
    shown.add(path);
    add(`## ${path}`, text, Math.floor(maxChars * share));
  }

  // The repository map: at most map_tokens, and at most 40% of the context's budget.
  let map: RepoMap | null = null;
  const mapBudget = Math.min(
    o.mapTokens ?? 0,
    Math.floor(o.maxTokens * 0.4),
    Math.floor((maxChars - used) / 4) - 100,
  );
  if (mapBudget > 200 && src.mapFiles) {
    map = await mapOf(src.mapFiles(), mapBudget);
    if (map.text) {
      const title = `## Repository map (${map.covered} of ${map.files} files; line, declaration; ranked by references, cut to ${mapBudget} tokens)`;
      const piece = `${title}\n${map.text}\n`;
      parts.push(piece);
      used += piece.length;
      if (map.covered < map.files) truncated = true;
    }
  }

  // The tree: whole lines only, with how many were left out.
  const treeCap = Math.floor(maxChars * SHARE.tree);
  let tree = "";
  let listed = 0;
  for (const p of paths) {
    if (tree.length + p.length + 1 > treeCap - 64) break;
    tree += `${p}\n`;
    listed++;
  }
  if (listed < paths.length) {
    tree += `[… and ${paths.length - listed} more files]\n`;
    truncated = true;
  }
  add(`## File tree (${paths.length} files)`, tree, treeCap);

  if (o.include.length) {
    const match = picomatch(o.include, { dot: true });
    for (const p of paths) {
      if (shown.has(p) || !match(p)) continue;
      if (maxChars - used < 400) {
        truncated = true;
        break;
      }
      const text = await src.read(p);
      if (text === null) continue;
      add(`## File ${p}`, text, maxChars);
    }
  }
  // A small repository: whole files in rank order until the prefix clears the cache minimum.
  const fullFiles: string[] = [];
  if (map) {
    let tokens = counter.count(parts.join(""));
    for (const p of map.ranked) {
      if (tokens >= MIN_PREFIX_TOKENS || maxChars - used < 400) break;
      if (shown.has(p)) continue;
      const body = await src.read(p);
      if (body === null) continue;
      const room = Math.min(maxChars - used, (MIN_PREFIX_TOKENS - tokens) * 4 + 2_000);
      const c = cut(
        removeInvisible(body).replace(/\r\n/g, "\n").trimEnd(),
        room - p.length - 12,
        p,
      );
      const piece = `## File ${p}\n${c.text}\n\n`;
      parts.push(piece);
      used += piece.length;
      tokens += counter.count(piece);
      shown.add(p);
      fullFiles.push(p);
    }
  }
  const text = parts.join("").trimEnd() + "\n";
  return {
    text,
    commit: src.commit,
    files: paths.length,
    truncated,
    map,
    fullFiles,
    paths,
    read: (p) => src.read(p),
  };
}

const isText = (buf: Buffer): boolean => !buf.subarray(0, 8000).includes(0);

/** The checked-out commit, or null when the folder is not a git checkout. */
export function workspaceCommit(root: string): string | null {
  try {
    const out = execFileSync("git", ["-C", root, "rev-parse", "HEAD"], {
      encoding: "utf8",
      timeout: 5_000,
      stdio: ["ignore", "pipe", "ignore"],
    });
    return /^[0-9a-f]{40,64}$/.test(out.trim()) ? out.trim() : null;
  } catch {
    return null;
  }
}

/** Reads a checked-out repository (GITHUB_WORKSPACE). */
export function workspaceSource(repo: string, root: string): ContextSource {
  const paths: string[] = [];
  const walk = (dir: string, rel: string): void => {
    if (paths.length >= MAX_FILES) return;
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries.sort((a, b) => byCodeUnit(a.name, b.name))) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (!SKIP_DIRS.has(e.name)) walk(join(dir, e.name), r);
      } else if (e.isFile()) paths.push(r);
      if (paths.length >= MAX_FILES) return;
    }
  };
  walk(root, "");
  return {
    repo,
    commit: workspaceCommit(root),
    paths,
    mapFiles: () =>
      paths.map((p) => {
        const full = join(root, p);
        let size: number | undefined;
        try {
          size = statSync(full).size;
        } catch {
          size = undefined;
        }
        return {
          path: p,
          ...(size !== undefined ? { size } : {}),
          load: async () => {
            try {
              return readFileSync(full);
            } catch {
              return null;
            }
          },
        };
      }),
    async read(path) {
      try {
        const full = join(root, path);
        if (statSync(full).size > MAX_FILE_BYTES) return null;
        const buf = readFileSync(full);
        return isText(buf) ? buf.toString("utf8") : null;
      } catch {
        return null;
      }
    },
  };
}

/** Reads the default branch through the API: the git tree, and contents of the files shown. */
export async function apiSource(
  ctx: Pick<ProcessorContext, "env" | "octokit" | "repo" | "repoName">,
): Promise<ContextSource> {
  const head = await repoHead(ctx);
  const { data: tree } = await ctx.octokit.rest.git.getTree({
    ...ctx.repo,
    tree_sha: head.sha,
    recursive: "true",
  });
  const paths = tree.tree.filter((t) => t.type === "blob" && t.path).map((t) => t.path!);
  const sizes = new Map(tree.tree.map((t) => [t.path ?? "", t.size ?? 0]));
  const kept = paths.filter((p) => !p.split("/").some((s) => SKIP_DIRS.has(s)));
  // Each file is one request, made once: the map, the cache fill and issue files share it.
  const fetched = new Map<string, Promise<Buffer | null>>();
  const readBytes = (path: string): Promise<Buffer | null> => {
    let p = fetched.get(path);
    if (!p) fetched.set(path, (p = fetchBytes(path)));
    return p;
  };
  const fetchBytes = async (path: string): Promise<Buffer | null> => {
    try {
      const { data } = await ctx.octokit.rest.repos.getContent({
        ...ctx.repo,
        path,
        ref: head.sha,
      });
      if (Array.isArray(data) || data.type !== "file" || !("content" in data)) return null;
      return Buffer.from(data.content, "base64");
    } catch {
      return null;
    }
  };
  return {
    repo: ctx.repoName,
    commit: head.sha,
    paths: kept,
    // Through the API every file is a request: the map reads source files only, at most
    // API_MAP_FILES of them (in path order), each once.
    mapFiles: () =>
      kept
        .filter((p) => languageOf(p) !== null && !binaryByName(p))
        .slice(0, API_MAP_FILES)
        .map((p) => ({ path: p, size: sizes.get(p) ?? 0, load: () => readBytes(p) })),
    async read(path) {
      if ((sizes.get(path) ?? 0) > MAX_FILE_BYTES) return null;
      const buf = await readBytes(path);
      return buf && isText(buf) ? buf.toString("utf8") : null;
    },
  };
}

const CONTEXTS = runSlot("project-context", () => new Map<string, Promise<ProjectContext>>());

/**
 * The project context of the repository being processed: from the checked-out workspace when
 * there is one, else through the API. Cached per repository and commit for the run.
 */
export async function projectContext(ctx: ProcessorContext): Promise<ProjectContext> {
  const m = ctx.env.run.memo(CONTEXTS);
  // A long-lived env (the app) sees many commits: keep the newest few.
  if (m.size > 16) m.clear();
  const counter = counterFor(ctx);
  const opts = {
    include: ctx.config.tech_debt.context.include,
    maxTokens: ctx.config.tech_debt.context.max_tokens,
    mapTokens: ctx.config.tech_debt.context.map_tokens,
    counter,
  };
  const optsKey = JSON.stringify({ ...opts, counter: counter.id });
  const withLog = { ...opts, log: ctx.log };
  if (ctx.env.workspace) {
    const root = ctx.env.workspace;
    const key = `${ctx.repoName.toLowerCase()}@${workspaceCommit(root) ?? "workspace"}|${optsKey}`;
    let p = m.get(key);
    if (!p) {
      p = assembleContext(workspaceSource(ctx.repoName, root), withLog).then((c) => ({
        ...c,
        source: "workspace" as const,
      }));
      m.set(key, p);
    }
    return p;
  }
  const head = await repoHead(ctx);
  const key = `${ctx.repoName.toLowerCase()}@${head.sha}|${optsKey}`;
  let p = m.get(key);
  if (!p) {
    p = apiSource(ctx)
      .then((src) => assembleContext(src, withLog))
      .then((c) => ({ ...c, source: "api" as const }));
    p.catch(() => m.delete(key));
    m.set(key, p);
  }
  return p;
}

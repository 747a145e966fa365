import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import picomatch from "picomatch";
import { runSlot } from "../core/run-state.js";
import type { ProcessorContext } from "../core/worker-contract.js";
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
}

/** What a context is built from, however it was read. */
export interface ContextSource {
  repo: string;
  commit: string | null;
  /** Every file path, any order (sorted here). */
  paths: string[];
  read(path: string): Promise<string | null>;
}

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

/**
 * Assembles the context text from a source within `maxTokens`, counted by `counter` (the model's
 * tokenizer): assembled for a character budget, counted, and assembled again with the budget
 * scaled by what the count says (at most three times; files are read once).
 */
export async function assembleContext(
  src: ContextSource,
  o: { include: string[]; maxTokens: number; counter?: TokenCounter },
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
  let maxChars = o.maxTokens * 4;
  let best: Omit<ProjectContext, "source"> | null = null;
  for (let round = 0; round < 3; round++) {
    const c = await assembleOnce(once, o.include, maxChars);
    const tokens = counter.count(c.text);
    const fits = tokens <= o.maxTokens;
    if (fits && (!best || tokens > best.tokens)) best = { ...c, tokens };
    // Within 5 % under the budget, or nothing was cut: done.
    if (fits && (!c.truncated || tokens >= o.maxTokens * 0.95)) break;
    maxChars = Math.floor((maxChars * o.maxTokens * 0.98) / Math.max(1, tokens));
  }
  if (best) return best;
  const last = await assembleOnce(once, o.include, Math.floor(maxChars * 0.8));
  return { ...last, tokens: counter.count(last.text) };
}

async function assembleOnce(
  src: ContextSource,
  include: string[],
  maxChars: number,
): Promise<Omit<ProjectContext, "source" | "tokens">> {
  const o = { include };
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
  const text = parts.join("").trimEnd() + "\n";
  return {
    text,
    commit: src.commit,
    files: paths.length,
    truncated,
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
  return {
    repo: ctx.repoName,
    commit: head.sha,
    paths: paths.filter((p) => !p.split("/").some((s) => SKIP_DIRS.has(s))),
    async read(path) {
      if ((sizes.get(path) ?? 0) > MAX_FILE_BYTES) return null;
      try {
        const { data } = await ctx.octokit.rest.repos.getContent({
          ...ctx.repo,
          path,
          ref: head.sha,
        });
        if (Array.isArray(data) || data.type !== "file" || !("content" in data)) return null;
        const buf = Buffer.from(data.content, "base64");
        return isText(buf) ? buf.toString("utf8") : null;
      } catch {
        return null;
      }
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
    counter,
  };
  const optsKey = JSON.stringify({ ...opts, counter: counter.id });
  if (ctx.env.workspace) {
    const root = ctx.env.workspace;
    const key = `${ctx.repoName.toLowerCase()}@${workspaceCommit(root) ?? "workspace"}|${optsKey}`;
    let p = m.get(key);
    if (!p) {
      p = assembleContext(workspaceSource(ctx.repoName, root), opts).then((c) => ({
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
      .then((src) => assembleContext(src, opts))
      .then((c) => ({ ...c, source: "api" as const }));
    p.catch(() => m.delete(key));
    m.set(key, p);
  }
  return p;
}

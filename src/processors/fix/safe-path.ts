import { lstat, realpath } from "node:fs/promises";
import { isAbsolute, join, relative, sep } from "node:path";
import picomatch from "picomatch";

export type PathCheck =
  /** `path`: the path to write; `requested`: the name it was asked for, when a link made them differ. */
  { ok: true; path: string; requested?: string } | { ok: false; reason: string };

/**
 * A repository-relative path as bg-agent will write it, or why it is refused. Refused always,
 * whatever the config: absolute paths, `..`, anything under `.git`, backslashes, control
 * characters, and workflow files (`.github/workflows/`, which could run code with secrets).
 */
export function normalizeRepoPath(input: string): PathCheck {
  const raw = input.trim();
  if (!raw) return { ok: false, reason: "the path is empty" };
  if (raw.length > 500) return { ok: false, reason: "the path is longer than 500 characters" };
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f]/.test(raw))
    return { ok: false, reason: "the path contains control characters" };
  if (raw.includes("\\"))
    return { ok: false, reason: "the path contains a backslash; use forward slashes" };
  if (raw.startsWith("/") || raw.startsWith("~") || /^[A-Za-z]:/.test(raw)) {
    return {
      ok: false,
      reason: "the path is absolute; only paths inside the repository can be edited",
    };
  }
  const segments = raw.split("/").filter((s) => s !== "" && s !== ".");
  if (segments.includes(".."))
    return { ok: false, reason: "the path leaves the repository (`..`)" };
  if (segments.some((s) => s.toLowerCase() === ".git"))
    return { ok: false, reason: "files under .git are never edited" };
  if (!segments.length) return { ok: false, reason: "the path names the repository root" };
  if (segments[0]!.toLowerCase() === ".github" && segments[1]?.toLowerCase() === "workflows") {
    return { ok: false, reason: "workflow files (.github/workflows/) are never edited by a fix" };
  }
  return { ok: true, path: segments.join("/") };
}

const inside = (root: string, p: string): boolean => {
  const rel = relative(root, p);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
};

const toRepoPath = (realRoot: string, p: string): string =>
  relative(realRoot, p).split(sep).join("/");

/** The real locations of `.git` and `.github/workflows`, so another name for them is refused too. */
async function protectedDirs(realRoot: string): Promise<{ dir: string; what: string }[]> {
  const out: { dir: string; what: string }[] = [];
  for (const [rel, what] of [
    [".git", "files under .git are never edited"],
    [".github/workflows", "workflow files (.github/workflows/) are never edited by a fix"],
  ] as const) {
    try {
      out.push({ dir: await realpath(join(realRoot, rel)), what });
    } catch {
      // Not there.
    }
  }
  return out;
}

/**
 * Checks a normalized path against the file system of the checkout, on the real path: every
 * component is resolved (symbolic links followed; the part that does not exist yet will be created
 * as plain directories), and the rules hold for what it resolves to. Refused: a link that leads
 * outside the repository, into .git or to workflow files, a dangling link on the way, and a file
 * that is itself a symbolic link (writing through it would change another file than the one named).
 * On success, `path` is the resolved repository path: the file that will really be written.
 */
export async function checkOnDisk(root: string, path: string): Promise<PathCheck> {
  const realRoot = await realpath(root);
  const guarded = await protectedDirs(realRoot);
  const segments = path.split("/");
  let current = realRoot;
  const refuseAt = (i: number, why: string): PathCheck => ({
    ok: false,
    reason: `${segments.slice(0, i + 1).join("/")} is a symbolic link ${why}`,
  });
  /** Why a resolved location is refused (the lexical rules and the protected directories). */
  const rulesOn = (resolved: string): string | undefined => {
    if (!inside(realRoot, resolved)) return "a place outside the repository";
    const rel = toRepoPath(realRoot, resolved);
    const n = normalizeRepoPath(rel || ".");
    if (!n.ok && !/names the repository root/.test(n.reason))
      return `${rel}, which is refused: ${n.reason}`;
    for (const g of guarded) {
      if (inside(g.dir, resolved)) return `${rel}, which is refused: ${g.what}`;
    }
    return undefined;
  };
  for (let i = 0; i < segments.length; i++) {
    const next = join(current, segments[i]!);
    let isLink: boolean;
    try {
      isLink = (await lstat(next)).isSymbolicLink();
    } catch {
      // Does not exist (yet): the rest of the path will be created as plain directories.
      current = join(current, ...segments.slice(i));
      break;
    }
    if (!isLink) {
      current = next;
      continue;
    }
    if (i === segments.length - 1) {
      return {
        ok: false,
        reason: `${path} is a symbolic link; bg-agent does not write through links`,
      };
    }
    let target: string;
    try {
      target = await realpath(next);
    } catch {
      return refuseAt(i, "that dangles (its target does not exist)");
    }
    const broken = rulesOn(target);
    if (broken) return refuseAt(i, `to ${broken}`);
    current = target;
  }
  const broken = rulesOn(current);
  if (broken) return { ok: false, reason: `${path} resolves to ${broken}` };
  const resolved = toRepoPath(realRoot, current);
  if (!resolved) return { ok: false, reason: "the path names the repository root" };
  return resolved === path ? { ok: true, path } : { ok: true, path: resolved, requested: path };
}

/** Lexical and on-disk checks together. */
export async function checkPath(root: string, input: string): Promise<PathCheck> {
  const lexical = normalizeRepoPath(input);
  return lexical.ok ? checkOnDisk(root, lexical.path) : lexical;
}

/**
 * Whether a path is one of the plan's affected files. A plan entry is a file path, a directory
 * (`src/util/` or `src/util`: everything under it) or a glob (`src/**\/*.ts`).
 */
export function planMatcher(entries: readonly string[]): (path: string) => boolean {
  const exact = new Set<string>();
  const dirs: string[] = [];
  const globs: ((p: string) => boolean)[] = [];
  for (const e of entries) {
    const trimmed = e.trim();
    if (/[*?[\]{}]/.test(trimmed)) {
      const n = trimmed.replace(/^\.\//, "");
      if (n.split("/").includes("..") || n.startsWith("/")) continue;
      globs.push(picomatch(n, { dot: false }));
      continue;
    }
    const n = normalizeRepoPath(trimmed);
    if (!n.ok) continue;
    exact.add(n.path);
    dirs.push(`${n.path}/`);
  }
  return (p) => exact.has(p) || dirs.some((d) => p.startsWith(d)) || globs.some((g) => g(p));
}

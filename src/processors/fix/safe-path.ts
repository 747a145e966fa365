import { lstat, realpath } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import picomatch from "picomatch";

export type PathCheck = { ok: true; path: string } | { ok: false; reason: string };

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
  return rel === "" || (!rel.startsWith("..") && !rel.startsWith(sep) && rel !== "..");
};

/**
 * Checks a normalized path against the file system of the checkout: no symbolic link on the way
 * may lead outside the repository or into .git, and the file itself may not be a symbolic link
 * (writing through it would change another file than the one named).
 */
export async function checkOnDisk(root: string, path: string): Promise<PathCheck> {
  const realRoot = await realpath(root);
  const segments = path.split("/");
  let current = realRoot;
  for (let i = 0; i < segments.length; i++) {
    const next = join(current, segments[i]!);
    let isLink = false;
    try {
      isLink = (await lstat(next)).isSymbolicLink();
    } catch {
      // Does not exist (yet): the rest of the path will be created as plain directories.
      return { ok: true, path };
    }
    if (isLink) {
      if (i === segments.length - 1) return { ok: false, reason: `${path} is a symbolic link` };
      let target: string;
      try {
        target = await realpath(next);
      } catch {
        return {
          ok: false,
          reason: `${segments.slice(0, i + 1).join("/")} is a dangling symbolic link`,
        };
      }
      if (!inside(realRoot, target)) {
        return {
          ok: false,
          reason: `${segments.slice(0, i + 1).join("/")} is a symbolic link that leads outside the repository`,
        };
      }
      if (
        relative(realRoot, target)
          .split(sep)
          .some((s) => s.toLowerCase() === ".git")
      ) {
        return {
          ok: false,
          reason: `${segments.slice(0, i + 1).join("/")} is a symbolic link into .git`,
        };
      }
      current = target;
    } else current = next;
  }
  return { ok: true, path };
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

import type { RepoMap } from "./build.js";

/** A path or symbol in issue text, and the repository files it resolves to. */
export interface Mention {
  text: string;
  paths: string[];
}

const PATH_RE =
  /(?:^|[\s`'"([<{,])((?:\.{0,2}\/)?[\w@.+-]+(?:\/[\w@.+-]+)*\.[A-Za-z0-9]{1,10})(?::\d+(?::\d+)?)?(?=$|[\s`'")\]>},.;:!?])/g;
const SYMBOL_RE = /\b([A-Za-z_$][\w$]{2,})\b/g;
/** A name looks like code: camelCase, snake_case, PascalCase with a second capital, or a call. */
const CODE_LIKE = /[a-z][A-Z]|[A-Za-z0-9]_[A-Za-z0-9]|^[A-Z][a-z0-9]+[A-Z]/;
/** A symbol defined in more files than this is too common to tell which one is meant. */
const MAX_DEFINERS = 3;

/**
 * True for a repository-relative path that stays inside the repository: not absolute, no `..`
 * or `.` segments, no backslashes, not in `.git`.
 */
export function safeRepoPath(p: string): boolean {
  if (!p || p.startsWith("/") || p.startsWith("~") || /^[A-Za-z]:/.test(p) || p.includes("\\"))
    return false;
  const segs = p.split("/");
  return (
    segs.every((s) => s !== "" && s !== "." && s !== "..") &&
    !segs.some((s) => s.toLowerCase() === ".git")
  );
}

/**
 * The files an issue names: paths (`src/foo.ts`, `foo.ts:12`, a unique file-name suffix) that
 * are in the repository, and code-like symbols (`parseBar`) the map defines in at most three
 * files. Unsafe paths (absolute, `..`, `.git`) are ignored and counted.
 */
export function issueMentions(
  text: string,
  paths: readonly string[],
  map: Pick<RepoMap, "symbols"> | null,
): { files: string[]; mentions: Mention[]; ignored: number } {
  const known = new Set(paths);
  const mentions: Mention[] = [];
  let ignored = 0;
  const seen = new Set<string>();
  for (const m of text.matchAll(PATH_RE)) {
    const raw = m[1]!;
    if (seen.has(raw)) continue;
    seen.add(raw);
    const p = raw.replace(/^\.\//, "");
    if (!safeRepoPath(p)) {
      if (p.includes("/") || raw.startsWith("/")) ignored++;
      continue;
    }
    if (known.has(p)) {
      mentions.push({ text: raw, paths: [p] });
      continue;
    }
    if (!p.includes("/") || p.split("/").length >= 2) {
      const hits = paths.filter((q) => q.endsWith(`/${p}`));
      if (hits.length >= 1 && hits.length <= MAX_DEFINERS)
        mentions.push({ text: raw, paths: hits });
    }
  }
  if (map) {
    for (const m of text.matchAll(SYMBOL_RE)) {
      const name = m[1]!;
      if (seen.has(name) || !CODE_LIKE.test(name)) continue;
      seen.add(name);
      const where = map.symbols.get(name);
      if (where && where.length <= MAX_DEFINERS) mentions.push({ text: name, paths: [...where] });
    }
  }
  const files = [...new Set(mentions.flatMap((x) => x.paths))];
  return { files, mentions, ignored };
}

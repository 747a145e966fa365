import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import type { FileView } from "./prompt.js";
import { checkPath, normalizeRepoPath, planMatcher } from "./safe-path.js";

const MAX_FILE_CHARS = 100_000;

/** The files as the model sees them: content, or why it is not shown (unsafe path, binary, too large). */
export async function readViews(root: string, paths: readonly string[]): Promise<FileView[]> {
  const views: FileView[] = [];
  for (const p of paths) {
    const checked = await checkPath(root, p);
    if (!checked.ok) {
      views.push({ path: p, content: null, note: `not shown: ${checked.reason}` });
      continue;
    }
    const full = join(root, checked.path);
    const info = await stat(full).catch(() => null);
    if (!info) views.push({ path: checked.path, content: null });
    else if (!info.isFile()) views.push({ path: checked.path, content: null, note: "not a file" });
    else if (info.size > MAX_FILE_CHARS * 4)
      views.push({
        path: checked.path,
        content: null,
        note: `too large to show (${info.size} bytes)`,
      });
    else {
      const text = await readFile(full, "utf8");
      if (text.includes("\u0000"))
        views.push({ path: checked.path, content: null, note: "binary file" });
      else if (text.length > MAX_FILE_CHARS)
        views.push({
          path: checked.path,
          content: text.slice(0, MAX_FILE_CHARS),
          note: "truncated",
        });
      else views.push({ path: checked.path, content: text });
    }
  }
  return views;
}

/** The files to show the model: tracked files the plan names (files, folders, globs), and named files that do not exist yet. */
export function promptPaths(
  entries: readonly string[],
  tracked: readonly string[],
  cap: number,
): string[] {
  const matches = planMatcher(entries);
  const out = new Set<string>(tracked.filter(matches));
  for (const e of entries) {
    if (/[*?[\]{}]/.test(e)) continue;
    const n = normalizeRepoPath(e);
    if (n.ok && !tracked.some((t) => t.startsWith(`${n.path}/`))) out.add(n.path);
  }
  return [...out].sort().slice(0, cap);
}

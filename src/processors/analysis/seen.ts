import type { ProjectContext } from "../../context/project-context.js";
import type { SeenFiles } from "./issue-files.js";

const fmt = (n: number): string => n.toLocaleString("en-US");
const code = (p: string): string => `\`${p.replace(/[`\r\n]/g, " ").slice(0, 200)}\``;

/**
 * The analysis footer: what the model saw of the repository, so nobody mistakes a partial look
 * for a full one. Paths come from the repository's tree and are shown in code spans.
 */
export function seenFooter(context: ProjectContext, s: SeenFiles): string {
  const parts: string[] = [];
  const m = context.map;
  if (m) {
    const skipped = Object.entries(m.skipped)
      .filter(([, n]) => n > 0)
      .map(([why, n]) => `${fmt(n)} ${why}`);
    let line = `the repository map covered ${fmt(m.covered)} of ${fmt(m.files)} files`;
    if (m.overLimit) line += ` (${fmt(m.overLimit)} more not mapped)`;
    if (skipped.length) line += `; skipped: ${skipped.join(", ")}`;
    if (m.grammarFailures.length)
      line += `; outlined without a parser: ${m.grammarFailures.join(", ")}`;
    if (m.timedOut) line += `; ${fmt(m.timedOut)} outlined (parse time)`;
    parts.push(line);
  } else parts.push("no repository map (README, contributing guide and file tree only)");
  if (s.read.length) {
    const cut = new Set(s.truncated);
    parts.push(
      `files read for this issue: ${s.read.map((p) => (cut.has(p) ? `${code(p)} (truncated)` : code(p))).join(", ")}`,
    );
  } else parts.push("no file read for this issue");
  if (s.dropped.length)
    parts.push(`named but left out (token budget): ${s.dropped.map(code).join(", ")}`);
  if (s.ignored) parts.push(`${fmt(s.ignored)} path(s) outside the repository ignored`);
  return `What the model saw: ${parts.join("; ")}.`;
}

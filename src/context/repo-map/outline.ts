import type { Def } from "./tags.js";
import { extensionOf } from "./languages.js";

const MAX_ENTRIES = 24;
const MAX_LINE = 120;

const clip = (s: string): string => {
  const t = s.replace(/\s+/g, " ").trim();
  return t.length > MAX_LINE ? `${t.slice(0, MAX_LINE - 1)}…` : t;
};

const entry = (name: string, line: number, signature: string, depth = 0): Def => ({
  name,
  kind: "outline",
  line,
  signature: clip(signature),
  depth,
});

/** Markdown: its headings (not inside fenced code). */
function markdown(lines: string[]): Def[] {
  const out: Def[] = [];
  let fence = false;
  lines.forEach((l, i) => {
    if (/^\s*(```|~~~)/.test(l)) fence = !fence;
    const m = !fence && /^(#{1,6})\s+(.+?)\s*#*\s*$/.exec(l);
    if (m) out.push(entry(m[2]!, i + 1, l, Math.min(3, m[1]!.length - 1)));
  });
  return out;
}

/** YAML, TOML, INI, .env-like: top-level keys and [sections]. */
function keyed(lines: string[]): Def[] {
  const out: Def[] = [];
  lines.forEach((l, i) => {
    const m = /^\[([^\]]+)\]\s*$/.exec(l) ?? /^["']?([A-Za-z0-9_.$@/-]+)["']?\s*[:=]/.exec(l);
    if (m) out.push(entry(m[1]!, i + 1, l));
  });
  return out;
}

/** JSON: the top-level keys (lines indented once), else its first lines. */
function json(lines: string[]): Def[] {
  const out: Def[] = [];
  const indent = lines.map((l) => /^(\s+)"/.exec(l)?.[1]!.length ?? -1).filter((n) => n > 0);
  const top = indent.length ? Math.min(...indent) : -1;
  lines.forEach((l, i) => {
    const m = /^(\s+)"((?:[^"\\]|\\.)+)"\s*:/.exec(l);
    if (m && m[1]!.length === top) out.push(entry(m[2]!, i + 1, l));
  });
  return out.length ? out : firstLines(lines);
}

/** Anything else: its first non-empty lines. */
function firstLines(lines: string[]): Def[] {
  const out: Def[] = [];
  for (let i = 0; i < lines.length && out.length < 3; i++) {
    if (lines[i]!.trim()) out.push(entry("", i + 1, lines[i]!));
  }
  return out;
}

/**
 * A plain outline of a text file the map has no grammar for (or whose grammar failed): headings
 * for Markdown, top-level keys for YAML/TOML/JSON, the first lines otherwise.
 */
export function outline(path: string, text: string): Def[] {
  const lines = text.split(/\r?\n/);
  const ext = extensionOf(path);
  let defs: Def[];
  if (ext === "md" || ext === "markdown" || ext === "mdx") defs = markdown(lines);
  else if (["yml", "yaml", "toml", "ini", "cfg", "env", "properties"].includes(ext))
    defs = keyed(lines);
  else if (ext === "json" || ext === "jsonc") defs = json(lines);
  else defs = [];
  if (!defs.length) defs = firstLines(lines);
  return defs.slice(0, MAX_ENTRIES);
}

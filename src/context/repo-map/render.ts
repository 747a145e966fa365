import type { RankedDef } from "./rank.js";
import { countTokens } from "./tokens.js";

const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const keyOf = (path: string, line: number): string => `${path}\u0000${line}`;

/**
 * The map's lines for the chosen definitions, each ending with a newline: files in path order, a
 * file's path and then its lines in source order, members indented under their container (shown
 * too, so a method is never orphaned), as `line signature`.
 */
export function renderLines(
  chosen: readonly RankedDef[],
  all: ReadonlyMap<string, RankedDef>,
): string[] {
  const byFile = new Map<string, Map<string, RankedDef>>();
  const add = (d: RankedDef): void => {
    let lines = byFile.get(d.path);
    if (!lines) byFile.set(d.path, (lines = new Map()));
    const k = `${d.line}\u0000${d.depth}\u0000${d.name}`;
    if (lines.has(k)) return;
    lines.set(k, d);
    if (d.parentLine !== undefined) {
      const parent = all.get(keyOf(d.path, d.parentLine));
      if (parent) add(parent);
    }
  };
  for (const d of chosen) add(d);
  const out: string[] = [];
  for (const path of [...byFile.keys()].sort(byCodeUnit)) {
    const lines = [...byFile.get(path)!.values()].sort(
      (a, b) => a.line - b.line || a.depth - b.depth || byCodeUnit(a.name, b.name),
    );
    out.push(`${path}\n`);
    for (const d of lines)
      out.push(`${String(d.line).padStart(5)} ${"  ".repeat(d.depth)}${d.signature}\n`);
  }
  return out;
}

/** The map text of the chosen definitions (renderLines, joined). */
export const renderDefs = (
  chosen: readonly RankedDef[],
  all: ReadonlyMap<string, RankedDef>,
): string => renderLines(chosen, all).join("");

type Fit = { text: string; tokens: number; shown: readonly RankedDef[] };

/**
 * The most definitions (in rank order) whose rendering fits `maxTokens`, found by binary search
 * as aider does. Returns the text, its tokens and the definitions it shows.
 *
 * A probe's count is the sum of its lines' counts, each line counted once however many probes
 * show it: the tokenizer (o200k) always splits the text after a line's newline, so the sum is the
 * count of the whole. The chosen text is still counted whole; should that ever disagree (a path
 * with a newline or leading blanks), the search runs again counting every probe whole.
 */
export function fitToBudget(ranked: readonly RankedDef[], maxTokens: number): Fit {
  const all = new Map<string, RankedDef>();
  for (const d of ranked) {
    const k = keyOf(d.path, d.line);
    if (!all.has(k)) all.set(k, d);
  }
  const counted = new Map<string, number>();
  const byLines = (lines: readonly string[]): number => {
    let n = 0;
    for (const l of lines) {
      let c = counted.get(l);
      if (c === undefined) counted.set(l, (c = countTokens(l)));
      n += c;
    }
    return n;
  };
  const fit = search(ranked, maxTokens, all, byLines);
  if (countTokens(fit.text) === fit.tokens) return fit;
  return search(ranked, maxTokens, all, (lines) => countTokens(lines.join("")));
}

function search(
  ranked: readonly RankedDef[],
  maxTokens: number,
  all: ReadonlyMap<string, RankedDef>,
  count: (lines: readonly string[]) => number,
): Fit {
  // A cheap upper bound first: a token is at least ~2 characters of this text.
  let hi = 0;
  let chars = 0;
  while (hi < ranked.length && chars < maxTokens * 6) chars += ranked[hi++]!.signature.length + 8;
  let best: { lines: readonly string[]; tokens: number; shown: readonly RankedDef[] } = {
    lines: [],
    tokens: 0,
    shown: [],
  };
  let lo = 0;
  while (lo <= hi) {
    const mid = Math.floor((lo + hi) / 2);
    const shown = ranked.slice(0, mid);
    const lines = renderLines(shown, all);
    const tokens = count(lines);
    if (tokens <= maxTokens) {
      best = { lines, tokens, shown };
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return { text: best.lines.join(""), tokens: best.tokens, shown: best.shown };
}

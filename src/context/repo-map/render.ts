import type { RankedDef } from "./rank.js";
import { countTokens } from "./tokens.js";

const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const keyOf = (path: string, line: number): string => `${path}\u0000${line}`;

/**
 * The map text of the chosen definitions: files in path order, each with its lines in source
 * order, members indented under their container (shown too, so a method is never orphaned),
 * as `line signature`.
 */
export function renderDefs(
  chosen: readonly RankedDef[],
  all: ReadonlyMap<string, RankedDef>,
): string {
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
  const parts: string[] = [];
  for (const path of [...byFile.keys()].sort(byCodeUnit)) {
    const lines = [...byFile.get(path)!.values()].sort(
      (a, b) => a.line - b.line || a.depth - b.depth || byCodeUnit(a.name, b.name),
    );
    parts.push(
      `${path}\n${lines.map((d) => `${String(d.line).padStart(5)} ${"  ".repeat(d.depth)}${d.signature}`).join("\n")}\n`,
    );
  }
  return parts.join("");
}

/**
 * The most definitions (in rank order) whose rendering fits `maxTokens`, found by binary search
 * as aider does. Returns the text, its tokens and the definitions it shows.
 */
export function fitToBudget(
  ranked: readonly RankedDef[],
  maxTokens: number,
): { text: string; tokens: number; shown: readonly RankedDef[] } {
  const all = new Map<string, RankedDef>();
  for (const d of ranked) {
    const k = keyOf(d.path, d.line);
    if (!all.has(k)) all.set(k, d);
  }
  // A cheap upper bound first: a token is at least ~2 characters of this text.
  let hi = 0;
  let chars = 0;
  while (hi < ranked.length && chars < maxTokens * 6) chars += ranked[hi++]!.signature.length + 8;
  let best = { text: "", tokens: 0, shown: [] as readonly RankedDef[] };
  let lo = 0;
  while (lo <= hi) {
    const mid = Math.floor((lo + hi) / 2);
    const shown = ranked.slice(0, mid);
    const text = renderDefs(shown, all);
    const tokens = countTokens(text);
    if (tokens <= maxTokens) {
      best = { text, tokens, shown };
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return best;
}

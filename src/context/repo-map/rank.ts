import type { Def } from "./tags.js";

/** A file as ranking sees it. */
export interface RankInput {
  path: string;
  defs: Def[];
  refs: ReadonlyMap<string, number>;
}

/** A definition with its rank and file. */
export interface RankedDef extends Def {
  path: string;
  rank: number;
}

const DAMPING = 0.85;
/** A fixed number of iterations (not "until converged"): the same arithmetic on every machine. */
const ITERATIONS = 40;
/** Names defined in more files than this say nothing about which one is meant. */
const MAX_DEFINERS = 40;

const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Kinds that name something another file can refer to. */
const INDEXED = (d: Def): boolean => d.kind !== "outline" && d.kind !== "impl" && d.name.length > 1;

/** aider's weights: specific names count more, private and widely defined ones less. */
function weightOf(name: string, definers: number): number {
  let w = 1;
  const specific = /[a-z][A-Z]|_[a-z0-9]/i.test(name) && name.length >= 8;
  if (specific) w *= 10;
  if (name.startsWith("_")) w *= 0.1;
  if (definers > 5) w *= 0.1;
  return w;
}

/** Name → the sorted paths that define it. */
export function definitionIndex(files: readonly RankInput[]): Map<string, string[]> {
  const idx = new Map<string, string[]>();
  for (const f of files) {
    for (const d of f.defs) {
      if (!INDEXED(d)) continue;
      const list = idx.get(d.name);
      if (!list) idx.set(d.name, [f.path]);
      else if (list.at(-1) !== f.path) list.push(f.path);
    }
  }
  return idx;
}

/**
 * Ranks every definition as aider's repomap does: PageRank over the files, with an edge from a
 * file that uses a name to each file that defines it (weighted by how often, and how specific the
 * name is); a file's rank then flows along its edges onto the definitions they point at.
 * Definitions nothing refers to keep a small share of their file's rank, earlier and top-level
 * ones first. Deterministic: sorted inputs, fixed iterations, no Map-order or locale dependence.
 */
export function rankDefinitions(input: readonly RankInput[]): RankedDef[] {
  const files = [...input].sort((a, b) => byCodeUnit(a.path, b.path));
  const n = files.length;
  if (!n) return [];
  const index = new Map(files.map((f, i) => [f.path, i]));
  const defs = definitionIndex(files);
  // Edges, aggregated per (source, target); contributions per (target, name) kept for later.
  const src: number[] = [];
  const dst: number[] = [];
  const wt: number[] = [];
  const name: string[] = [];
  for (let s = 0; s < n; s++) {
    const f = files[s]!;
    const used = [...f.refs.keys()].sort(byCodeUnit);
    for (const ident of used) {
      const definers = defs.get(ident);
      if (!definers || definers.length > MAX_DEFINERS) continue;
      const w = weightOf(ident, definers.length) * Math.sqrt(f.refs.get(ident)!);
      for (const p of definers) {
        const d = index.get(p)!;
        if (d === s) continue;
        src.push(s);
        dst.push(d);
        wt.push(w);
        name.push(ident);
      }
    }
  }
  const out = new Float64Array(n);
  for (let e = 0; e < src.length; e++) out[src[e]!]! += wt[e]!;
  let rank = new Float64Array(n).fill(1 / n);
  for (let it = 0; it < ITERATIONS; it++) {
    const next = new Float64Array(n);
    let dangling = 0;
    for (let i = 0; i < n; i++) if (out[i] === 0) dangling += rank[i]!;
    const base = (1 - DAMPING) / n + (DAMPING * dangling) / n;
    for (let i = 0; i < n; i++) next[i] = base;
    for (let e = 0; e < src.length; e++) {
      const s = src[e]!;
      next[dst[e]!]! += (DAMPING * rank[s]! * wt[e]!) / out[s]!;
    }
    rank = next;
  }
  // The rank each (file, name) receives along its in-edges.
  const flow = new Map<string, number>();
  for (let e = 0; e < src.length; e++) {
    const s = src[e]!;
    const key = `${dst[e]}\u0000${name[e]}`;
    flow.set(key, (flow.get(key) ?? 0) + (rank[s]! * wt[e]!) / out[s]!);
  }
  const ranked: RankedDef[] = [];
  for (let i = 0; i < n; i++) {
    const f = files[i]!;
    f.defs.forEach((d, k) => {
      const inflow = INDEXED(d) ? (flow.get(`${i}\u0000${d.name}`) ?? 0) : 0;
      const own = (rank[i]! * 0.01) / ((1 + k) * (1 + d.depth));
      ranked.push({ ...d, path: f.path, rank: inflow + own });
    });
  }
  return ranked.sort((a, b) => b.rank - a.rank || byCodeUnit(a.path, b.path) || a.line - b.line);
}

/** Files by rank, highest first (ties by path). */
export function rankFiles(ranked: readonly RankedDef[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const d of ranked) {
    if (!seen.has(d.path)) {
      seen.add(d.path);
      out.push(d.path);
    }
  }
  return out;
}

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

/** A name other files may refer to: the files defining it, its weight, its flow slots. */
interface Target {
  /** Indices (into the sorted files) of the files defining the name, in path order. */
  files: number[];
  weight: number;
  /** Where this name's per-definer flows start in the flow array. */
  slot: number;
}

/**
 * Ranks every definition as aider's repomap does: PageRank over the files, with an edge from a
 * file that uses a name to each file that defines it (weighted by how often, and how specific the
 * name is); a file's rank then flows along its edges onto the definitions they point at.
 * Definitions nothing refers to keep a small share of their file's rank, earlier and top-level
 * ones first. Deterministic: sorted inputs, fixed iterations, no Map-order or locale dependence;
 * every sum is taken in the same (edge) order, so the ranks are the same bits on every machine.
 */
export function rankDefinitions(input: readonly RankInput[]): RankedDef[] {
  const files = [...input].sort((a, b) => byCodeUnit(a.path, b.path));
  const n = files.length;
  if (!n) return [];
  const index = new Map(files.map((f, i) => [f.path, i]));
  // Names defined by at most MAX_DEFINERS files; each (name, defining file) gets a flow slot.
  const targets = new Map<string, Target>();
  let slots = 0;
  for (const [ident, definers] of definitionIndex(files)) {
    if (definers.length > MAX_DEFINERS) continue;
    targets.set(ident, {
      files: definers.map((p) => index.get(p)!),
      weight: weightOf(ident, definers.length),
      slot: slots,
    });
    slots += definers.length;
  }
  // Edges in a fixed order: by source file, then name (code-unit order), then defining file.
  // Counted first, so they are written straight into typed arrays.
  const usedBy: string[][] = [];
  let edges = 0;
  for (let s = 0; s < n; s++) {
    const f = files[s]!;
    const used: string[] = [];
    for (const ident of f.refs.keys()) {
      const t = targets.get(ident);
      if (!t) continue;
      used.push(ident);
      for (const d of t.files) if (d !== s) edges++;
    }
    usedBy.push(used.sort(byCodeUnit));
  }
  const from = new Int32Array(edges);
  const to = new Int32Array(edges);
  const weight = new Float64Array(edges);
  const at = new Int32Array(edges);
  for (let s = 0, e = 0; s < n; s++) {
    const f = files[s]!;
    for (const ident of usedBy[s]!) {
      const t = targets.get(ident)!;
      const w = t.weight * Math.sqrt(f.refs.get(ident)!);
      for (let j = 0; j < t.files.length; j++) {
        const d = t.files[j]!;
        if (d === s) continue;
        from[e] = s;
        to[e] = d;
        weight[e] = w;
        at[e] = t.slot + j;
        e++;
      }
    }
  }
  const out = new Float64Array(n);
  for (let e = 0; e < edges; e++) out[from[e]!]! += weight[e]!;
  let rank = new Float64Array(n).fill(1 / n);
  for (let it = 0; it < ITERATIONS; it++) {
    const next = new Float64Array(n);
    let dangling = 0;
    for (let i = 0; i < n; i++) if (out[i] === 0) dangling += rank[i]!;
    const base = (1 - DAMPING) / n + (DAMPING * dangling) / n;
    for (let i = 0; i < n; i++) next[i] = base;
    for (let e = 0; e < edges; e++) {
      const s = from[e]!;
      next[to[e]!]! += (DAMPING * rank[s]! * weight[e]!) / out[s]!;
    }
    rank = next;
  }
  // The rank each (file, name) receives along its in-edges.
  const flow = new Float64Array(slots);
  for (let e = 0; e < edges; e++) {
    const s = from[e]!;
    flow[at[e]!]! += (rank[s]! * weight[e]!) / out[s]!;
  }
  const inflow = (file: number, name: string): number => {
    const t = targets.get(name);
    const j = t ? t.files.indexOf(file) : -1;
    return t && j >= 0 ? flow[t.slot + j]! : 0;
  };
  const ranked: RankedDef[] = [];
  const score: number[] = [];
  const pathOrder: number[] = [];
  for (let i = 0, p = 0; i < n; i++) {
    const f = files[i]!;
    if (i > 0 && f.path !== files[i - 1]!.path) p = i;
    f.defs.forEach((d, k) => {
      const own = (rank[i]! * 0.01) / ((1 + k) * (1 + d.depth));
      const r = (INDEXED(d) ? inflow(i, d.name) : 0) + own;
      // Written out, not spread: the same fields, several times faster for thousands of definitions.
      const rd: RankedDef = {
        name: d.name,
        kind: d.kind,
        line: d.line,
        signature: d.signature,
        depth: d.depth,
        path: f.path,
        rank: r,
      };
      if (d.parentLine !== undefined) rd.parentLine = d.parentLine;
      ranked.push(rd);
      score.push(r);
      pathOrder.push(p);
    });
  }
  // Highest rank first, then path and line; a stable sort keeps ties in input order.
  const order = ranked.map((_, i) => i);
  order.sort(
    (a, b) =>
      score[b]! - score[a]! || pathOrder[a]! - pathOrder[b]! || ranked[a]!.line - ranked[b]!.line,
  );
  return order.map((i) => ranked[i]!);
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

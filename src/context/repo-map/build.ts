import type { Logger } from "../../log.js";
import type { GrammarOptions } from "./grammars.js";
import { grammarFor } from "./grammars.js";
import { languageOf } from "./languages.js";
import { outline } from "./outline.js";
import type { RankInput, RankedDef } from "./rank.js";
import { definitionIndex, rankDefinitions, rankFiles } from "./rank.js";
import { fitToBudget } from "./render.js";
import type { SkipReason } from "./screen.js";
import { screenByName, screenBytes } from "./screen.js";
import { cachedTags, contentKey, keepTags } from "./tag-cache.js";
import type { FileTags } from "./tags.js";
import { extractTags } from "./tags.js";
import { removeInvisible } from "../hidden-text.js";

/** A file the map may read. */
export interface MapFile {
  path: string;
  /** Bytes, when known before reading (a git tree or stat). */
  size?: number;
  /** Its bytes; null when it cannot be read. */
  load(): Promise<Uint8Array | null>;
}

export interface RepoMapOptions {
  /** Token budget of the map text. */
  maxTokens: number;
  log: Logger;
  grammars?: GrammarOptions;
  /** Parse time one file may take before it is outlined instead (ms). */
  fileParseMs?: number;
  /** Parse time of the whole map; files after it are outlined (ms). */
  totalParseMs?: number;
  /** Files considered at most (in path order); the rest count as `not mapped`. */
  maxFiles?: number;
}

export type SkipCounts = Record<SkipReason | "unreadable", number>;

/** The map and what it covers: the analysis footer shows these numbers. */
export interface RepoMap {
  text: string;
  tokens: number;
  /** Files considered. */
  files: number;
  /** Files with at least one line in the text. */
  covered: number;
  /** Definitions and outline entries found, and shown. */
  definitions: number;
  shown: number;
  /** Files skipped, by reason. */
  skipped: SkipCounts;
  /** Files over the file limit, not looked at. */
  overLimit: number;
  /** Files parsed with a grammar, and files outlined because parsing ran out of time. */
  parsed: number;
  timedOut: number;
  /** Languages whose grammar did not load (their files were outlined). */
  grammarFailures: string[];
  /** Files by rank, highest first (the context adds whole files from the top when it has room). */
  ranked: string[];
  /** Name → the sorted paths defining it (issue text resolves symbols here). */
  symbols: ReadonlyMap<string, readonly string[]>;
}

export const NO_SKIPS: Readonly<SkipCounts> = Object.freeze({
  binary: 0,
  "too large": 0,
  minified: 0,
  "bad encoding": 0,
  unreadable: 0,
});

const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The repository map: every readable file's definitions (tree-sitter tags) or outline, ranked by
 * references (PageRank over the def/ref graph), cut to `maxTokens`. Byte-stable: the same files
 * give the same text on every machine.
 */
export async function buildRepoMap(input: readonly MapFile[], o: RepoMapOptions): Promise<RepoMap> {
  const maxFiles = o.maxFiles ?? 5_000;
  const fileMs = o.fileParseMs ?? 5_000;
  const stopAt = Date.now() + (o.totalParseMs ?? 60_000);
  const sorted = [...input].sort((a, b) => byCodeUnit(a.path, b.path));
  const files = sorted.filter((f, i) => i === 0 || f.path !== sorted[i - 1]!.path);
  const considered = files.slice(0, maxFiles);
  const skipped: SkipCounts = { ...NO_SKIPS };
  const grammarFailures = new Set<string>();
  const ranks: RankInput[] = [];
  let parsed = 0;
  let timedOut = 0;
  // Every grammar the files need starts loading now, together: their WebAssembly compiles in the
  // background while the first files are read and parsed.
  const screened = considered.map((f) => screenByName(f.path, f.size));
  const needed = new Set(considered.map((f, i) => (screened[i] ? null : languageOf(f.path))));
  for (const lang of needed) if (lang) void grammarFor(lang, o.log, o.grammars ?? {});
  for (const [i, f] of considered.entries()) {
    const early = screened[i];
    if (early) {
      skipped[early]++;
      continue;
    }
    const bytes = await f.load();
    if (!bytes) {
      skipped.unreadable++;
      continue;
    }
    const s = screenBytes(bytes);
    if ("skip" in s) {
      skipped[s.skip]++;
      continue;
    }
    const text = removeInvisible(s.text);
    const lang = languageOf(f.path);
    const grammar = lang ? await grammarFor(lang, o.log, o.grammars ?? {}) : null;
    if (lang && !grammar) grammarFailures.add(lang);
    let tags: FileTags | null = null;
    if (grammar) {
      const key = contentKey(grammar.lang, bytes);
      tags = cachedTags(grammar, key);
      if (!tags && Date.now() < stopAt) {
        tags = extractTags(grammar, text, Math.min(stopAt, Date.now() + fileMs));
        if (tags) keepTags(grammar, key, tags);
      }
      if (tags) parsed++;
      else timedOut++;
    }
    ranks.push(
      tags
        ? { path: f.path, ...tags }
        : { path: f.path, defs: outline(f.path, text), refs: new Map() },
    );
  }
  if (timedOut)
    o.log.warn({ files: timedOut }, "repository map: parse time ran out; those files are outlined");
  const ranked: RankedDef[] = rankDefinitions(ranks);
  const fit = fitToBudget(ranked, o.maxTokens);
  return {
    text: fit.text,
    tokens: fit.tokens,
    files: considered.length,
    covered: new Set(fit.shown.map((d) => d.path)).size,
    definitions: ranked.length,
    shown: fit.shown.length,
    skipped,
    overLimit: files.length - considered.length,
    parsed,
    timedOut,
    grammarFailures: [...grammarFailures].sort(byCodeUnit),
    ranked: rankFiles(ranked),
    symbols: definitionIndex(ranks),
  };
}

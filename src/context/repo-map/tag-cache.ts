import { createHash } from "node:crypto";
import type { Grammar } from "./grammars.js";
import type { FileTags } from "./tags.js";

/**
 * Tags by file content, kept for the life of the process: a file whose bytes did not change since
 * an earlier map (the next run on the same repository, or a copy of a file in the same tree) is
 * not parsed again. Tags are a pure function of the grammar and the text, so a hit gives the same
 * map bytes as a parse. Bounded: at most MAX_FILES files and MAX_WEIGHT definitions plus distinct
 * references, the oldest dropped first. The tags handed out are shared: callers must not change them.
 */
const MAX_FILES = 20_000;
const MAX_WEIGHT = 2_000_000;

interface Entry {
  grammar: Grammar;
  tags: FileTags;
  weight: number;
}

const entries = new Map<string, Entry>();
let weight = 0;

/** The cache key of a file's bytes in a language (sha256; the language keeps grammars apart). */
export const contentKey = (lang: string, bytes: Uint8Array): string =>
  `${lang}:${createHash("sha256").update(bytes).digest("base64")}`;

/** Tags parsed earlier from the same bytes with the same grammar, refreshed as most recent. */
export function cachedTags(g: Grammar, key: string): FileTags | null {
  const e = entries.get(key);
  if (!e || e.grammar !== g) return null;
  entries.delete(key);
  entries.set(key, e);
  return e.tags;
}

export function keepTags(g: Grammar, key: string, tags: FileTags): void {
  const w = 1 + tags.defs.length + tags.refs.size;
  if (w > MAX_WEIGHT) return;
  const old = entries.get(key);
  if (old) {
    weight -= old.weight;
    entries.delete(key);
  }
  entries.set(key, { grammar: g, tags, weight: w });
  weight += w;
  for (const [k, e] of entries) {
    if (entries.size <= MAX_FILES && weight <= MAX_WEIGHT) break;
    entries.delete(k);
    weight -= e.weight;
  }
}

/** Tests and benchmarks: forget every cached file. */
export function clearTagCache(): void {
  entries.clear();
  weight = 0;
}

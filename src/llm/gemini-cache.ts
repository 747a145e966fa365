import { z } from "zod";
import type { Logger } from "../log.js";
import { errText } from "../util/errors.js";
import type { PromptPrefix } from "./cache-key.js";
import type { Clock } from "./rate-limit.js";

/**
 * Gemini's explicit context cache (REST `cachedContents`) for a prefix that is reused often:
 * implicit caching on Gemini is best effort (and absent on 2.0 models), an explicit cache is
 * billed at the cached price on every call that references it, plus storage per hour of its TTL.
 *
 * The rule (`llm.gemini_cache`): every call with a prefix of at least the provider's minimum
 * (PROVIDER_TABLE's `explicitCache.minTokens`) counts as a use. Once a prefix has been used
 * `min_reuse` times within `ttl`, the next call creates a cache with that TTL and references it,
 * as do the calls after it until it expires; then the count starts over. A prefix whose cache
 * could not be created is not tried again within the TTL (its calls go uncached, as before).
 * State is per process: in the Action that is one run, in the app every run of the process.
 */
export interface GeminiCacheOptions {
  minReuse: number;
  ttlMs: number;
}

/** A created cache, as a call references it. */
export interface GeminiCacheRef {
  /** `cachedContents/…` */
  name: string;
  /** Tokens in the cache (Gemini's usageMetadata.totalTokenCount). */
  tokens: number;
  expiresAt: number;
  /** True for the call that created it (it pays the cache's storage). */
  created: boolean;
}

interface Entry {
  uses: number[];
  cache?: Omit<GeminiCacheRef, "created">;
  creating?: Promise<GeminiCacheRef | null>;
  failedUntil?: number;
}

/** A cache is not referenced in its last minute: the call might reach Gemini after it expired. */
const EXPIRY_MARGIN_MS = 60_000;
const MAX_ENTRIES = 512;
const entries = new Map<string, Entry>();

/** Forgets every prefix and cache (tests). */
export function resetGeminiCaches(): void {
  entries.clear();
}

const createdSchema = z.object({
  name: z.string().min(1),
  expireTime: z.string().optional(),
  usageMetadata: z.object({ totalTokenCount: z.number().int().min(0).optional() }).optional(),
});

/**
 * The REST root of a Gemini OpenAI-compatible base URL:
 * `https://generativelanguage.googleapis.com/v1beta/openai/` → `…/v1beta/`.
 */
export const geminiRestBase = (baseUrl: string): string =>
  `${baseUrl.replace(/\/+$/, "").replace(/\/openai$/, "")}/`;

export interface GeminiCacheDeps {
  apiKey: string;
  baseUrl: string;
  model: string;
  clock: Clock;
  log: Logger;
  fetch?: typeof fetch;
}

/**
 * The cache a call with this prefix should reference, creating it when the prefix's uses say so;
 * null when it goes implicit (below the threshold, or creation failed). Records the use.
 */
export async function geminiCacheFor(
  deps: GeminiCacheDeps,
  prefix: PromptPrefix,
  o: GeminiCacheOptions,
): Promise<GeminiCacheRef | null> {
  const now = deps.clock.now();
  const key = `${deps.baseUrl}|${deps.model}|${prefix.hash}`;
  let e = entries.get(key);
  if (!e) {
    if (entries.size >= MAX_ENTRIES) entries.delete(entries.keys().next().value!);
    e = { uses: [] };
    entries.set(key, e);
  }
  e.uses = e.uses.filter((t) => now - t < o.ttlMs);
  const earlier = e.uses.length;
  e.uses.push(now);
  if (e.cache && e.cache.expiresAt - EXPIRY_MARGIN_MS > now) return { ...e.cache, created: false };
  // Expired (or about to): a prefix still in use gets a new one by the same rule.
  if (e.cache) delete e.cache;
  if (e.creating) {
    const r = await e.creating;
    return r && { ...r, created: false };
  }
  if (e.failedUntil !== undefined && e.failedUntil > now) return null;
  if (earlier < o.minReuse) return null;
  const entry = e;
  entry.creating = createCache(deps, prefix, o.ttlMs)
    .then((c) => {
      entry.cache = c;
      return { ...c, created: true };
    })
    .catch((err: unknown) => {
      entry.failedUntil = deps.clock.now() + o.ttlMs;
      deps.log.warn(
        { err: errText(err) },
        `Gemini context cache not created: calls with this prefix go uncached for ${Math.round(o.ttlMs / 60_000)} min`,
      );
      return null;
    })
    .finally(() => {
      delete entry.creating;
    });
  return entry.creating;
}

/** A cache referenced by a call that Gemini refused: not used again. */
export function dropGeminiCache(deps: Pick<GeminiCacheDeps, "baseUrl" | "model">, hash: string) {
  const e = entries.get(`${deps.baseUrl}|${deps.model}|${hash}`);
  if (e) {
    delete e.cache;
    e.uses = [];
  }
}

async function createCache(
  deps: GeminiCacheDeps,
  prefix: PromptPrefix,
  ttlMs: number,
): Promise<Omit<GeminiCacheRef, "created">> {
  const url = `${geminiRestBase(deps.baseUrl)}cachedContents`;
  const model = deps.model.startsWith("models/") ? deps.model : `models/${deps.model}`;
  const res = await (deps.fetch ?? globalThis.fetch)(url, {
    method: "POST",
    headers: { "content-type": "application/json", "x-goog-api-key": deps.apiKey },
    body: JSON.stringify({
      model,
      displayName: `bg-agent ${prefix.hash.slice(0, 12)}`,
      systemInstruction: { parts: prefix.texts.map((text) => ({ text })) },
      ttl: `${Math.max(1, Math.round(ttlMs / 1000))}s`,
    }),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`POST cachedContents answered ${res.status}: ${text.slice(0, 300)}`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error("POST cachedContents answered with something that is not JSON");
  }
  const p = createdSchema.safeParse(json);
  if (!p.success) throw new Error("POST cachedContents answered without a cache name");
  const now = deps.clock.now();
  const expires = p.data.expireTime ? Date.parse(p.data.expireTime) : NaN;
  const c = {
    name: p.data.name,
    tokens: p.data.usageMetadata?.totalTokenCount ?? 0,
    expiresAt: Number.isFinite(expires) ? Math.min(expires, now + ttlMs) : now + ttlMs,
  };
  deps.log.info(
    { cache: c.name, tokens: c.tokens, ttlSeconds: Math.round(ttlMs / 1000) },
    "Gemini context cache created",
  );
  return c;
}

import { registerSecret } from "../util/secrets.js";
import { Octokit } from "@octokit/core";
import { paginateRest } from "@octokit/plugin-paginate-rest";
import type { PaginateInterface } from "@octokit/plugin-paginate-rest";
import { restEndpointMethods } from "@octokit/plugin-rest-endpoint-methods";
import type { Api } from "@octokit/plugin-rest-endpoint-methods";
import { retry } from "@octokit/plugin-retry";
import { throttling } from "@octokit/plugin-throttling";

/**
 * The GitHub client core functions take. Probot's installation octokit satisfies it, and so does
 * the token client below (CLI and Action), so the same code runs in the app, the Action and tests.
 */
export type GitHubClient = Octokit & Api & { paginate: PaginateInterface };

export interface RepoRef {
  owner: string;
  repo: string;
}

export const fullName = (r: RepoRef): string => `${r.owner}/${r.repo}`;

export function parseRepo(fullNameText: string): RepoRef {
  const m = /^([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+)$/.exec(fullNameText.trim());
  if (!m) throw new Error(`"${fullNameText}" is not a repository: expected owner/name`);
  return { owner: m[1]!, repo: m[2]! };
}

const TokenOctokit = Octokit.plugin(restEndpointMethods, paginateRest, retry, throttling);

/**
 * The statuses a retry can fix: GitHub's 5xx (Octokit reports a network error, ECONNRESET or
 * ETIMEDOUT, as a 500 too). Everything else is an answer: a 4xx refusal (405 not mergeable, 409
 * head moved, 422 validation, 404 deleted) is sent once and recorded with GitHub's message. Rate
 * limits (403/429 with retry-after or x-ratelimit-remaining: 0) are the throttling plugin's.
 */
export const RETRYABLE_STATUSES: readonly number[] = [500, 502, 503, 504];

/** @octokit/plugin-retry's `doNotRetry`: every status from 400 to 599 but RETRYABLE_STATUSES. */
export const DO_NOT_RETRY: readonly number[] = Array.from(
  { length: 200 },
  (_, i) => 400 + i,
).filter((s) => !RETRYABLE_STATUSES.includes(s));

/**
 * The longest rate-limit wait a request sits through; after a longer one the request fails and
 * its task waits pending until the limit lifts (rateLimitedUntil).
 */
export const MAX_RATE_LIMIT_WAIT_S = 60;

export interface RetryTuning {
  /** Off in unit tests (no retry, no throttling). */
  enabled?: boolean;
  /** Milliseconds per second of backoff and of retry-after (tests: 1). Default 1000. */
  baseMs?: number;
}

/** @octokit/plugin-retry options for every Octokit bg-agent builds (app, Action, CLI). */
export function githubRetryOptions(t: RetryTuning = {}): {
  enabled: boolean;
  doNotRetry: number[];
  retries: number;
  retryAfterBaseValue: number;
} {
  return {
    enabled: t.enabled ?? true,
    doNotRetry: [...DO_NOT_RETRY],
    retries: 3,
    retryAfterBaseValue: t.baseMs ?? 1000,
  };
}

type LimitHandler = (
  retryAfter: number,
  options: unknown,
  octokit: unknown,
  count: number,
) => boolean;

/**
 * @octokit/plugin-throttling handlers: a primary rate limit is waited out twice, a secondary one
 * (retry-after) once, each only when the wait is at most MAX_RATE_LIMIT_WAIT_S.
 */
export function githubThrottleHandlers(t: RetryTuning & { warn?: (msg: string) => void } = {}): {
  retryAfterBaseValue: number;
  onRateLimit: LimitHandler;
  onSecondaryRateLimit: LimitHandler;
} {
  const say = (kind: string, after: number, options: unknown, octokit: unknown, retry: boolean) => {
    const o = options as { method?: string; url?: string };
    const msg = `GitHub ${kind} rate limit on ${o.method ?? "?"} ${o.url ?? "?"}: ${retry ? `retrying in ${after}s` : "not retried"}`;
    // Called as a method: Probot's logger (pino) needs its `this`.
    if (t.warn) t.warn(msg);
    else (octokit as { log?: { warn?: (m: string) => void } } | undefined)?.log?.warn?.(msg);
    return retry;
  };
  return {
    retryAfterBaseValue: t.baseMs ?? 1000,
    onRateLimit: (after, options, octokit, count) =>
      say("primary", after, options, octokit, count < 2 && after <= MAX_RATE_LIMIT_WAIT_S),
    onSecondaryRateLimit: (after, options, octokit, count) =>
      say("secondary", after, options, octokit, count < 1 && after <= MAX_RATE_LIMIT_WAIT_S),
  };
}

export interface TokenClientOptions {
  token: string;
  baseUrl?: string;
  /** Tests hand in globalThis.fetch so nock sees the requests. */
  fetch?: typeof fetch;
  /** Off in unit tests. */
  retries?: boolean;
  /** Throttling (rate limits, write pacing); default: as `retries`. */
  throttle?: boolean;
  /** Milliseconds per second of backoff and retry-after (tests: 1). */
  retryBaseMs?: number;
  userAgent?: string;
}

/** A client authenticated by a token (GITHUB_TOKEN in a runner, a PAT for the CLI). */
export function createTokenClient(o: TokenClientOptions): GitHubClient {
  registerSecret(o.token);
  const enabled = o.retries ?? true;
  const tuning = { enabled, ...(o.retryBaseMs !== undefined ? { baseMs: o.retryBaseMs } : {}) };
  return new TokenOctokit({
    auth: o.token,
    baseUrl: (o.baseUrl ?? "https://api.github.com").replace(/\/$/, ""),
    userAgent: o.userAgent ?? "bg-agent",
    request: o.fetch ? { fetch: o.fetch } : {},
    retry: githubRetryOptions(tuning),
    throttle: { enabled: o.throttle ?? enabled, ...githubThrottleHandlers(tuning) },
  }) as unknown as GitHubClient;
}

/** HTTP status of an Octokit error, if any. */
export function httpStatus(e: unknown): number | undefined {
  if (
    e &&
    typeof e === "object" &&
    "status" in e &&
    typeof (e as { status: unknown }).status === "number"
  ) {
    return (e as { status: number }).status;
  }
  return undefined;
}

/**
 * Whether an error is GitHub's answer to the request itself (400, 403, 404, 405, 410, 422, 451):
 * sending it again gets the same answer. Not a refusal: rate limits (403/429 with retry-after,
 * x-ratelimit-remaining: 0 or "rate limit" in the message), 401 (a token to refresh), 409 (a
 * conflict that moves on), 5xx and network errors.
 */
export function isRefusal(e: unknown): boolean {
  const status = httpStatus(e);
  if (status === undefined || ![400, 403, 404, 405, 410, 422, 451].includes(status)) return false;
  if (status !== 403) return true;
  const r = (e as { response?: { headers?: Record<string, string | undefined> } }).response;
  const h = r?.headers ?? {};
  const rateLimited =
    h["x-ratelimit-remaining"] === "0" ||
    h["retry-after"] !== undefined ||
    /rate limit/i.test(e instanceof Error ? e.message : "");
  return !rateLimited;
}

/**
 * When a rate-limited request may be sent again (ms since the epoch), or undefined when `e` is
 * no rate limit: a primary limit (x-ratelimit-remaining: 0) at x-ratelimit-reset, a secondary
 * one after retry-after (60 s when GitHub gives none). The throttling plugin already waited out
 * the short ones; what reaches a processor is a wait the task should spend pending, without
 * using an attempt.
 */
export function rateLimitedUntil(e: unknown, now = Date.now()): number | undefined {
  const status = httpStatus(e);
  if (status !== 403 && status !== 429) return undefined;
  const h =
    (e as { response?: { headers?: Record<string, string | undefined> } }).response?.headers ?? {};
  const reset = Number(h["x-ratelimit-reset"]);
  if (h["x-ratelimit-remaining"] === "0" && Number.isFinite(reset) && reset > 0)
    return Math.max(now, reset * 1000) + 1000;
  const after = Number(h["retry-after"]);
  if (h["retry-after"] !== undefined && Number.isFinite(after)) return now + after * 1000;
  if (/secondary rate limit/i.test(e instanceof Error ? e.message : "")) return now + 60_000;
  return undefined;
}

/** Logins that are bots: `[bot]` suffix or type Bot. */
export function isBot(
  user: { login?: string | null | undefined; type?: string | null | undefined } | null | undefined,
): boolean {
  if (!user) return true;
  return user.type === "Bot" || /\[bot\]$/i.test(user.login ?? "");
}

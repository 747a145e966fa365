import nock from "nock";
import { createTokenClient } from "../../src/integrations/github.js";
import type { GitHubClient } from "../../src/integrations/github.js";

export const API = "https://api.github.com";

/**
 * The production GitHub client (bg-agent's retry policy on) with backoff and retry-after scaled
 * to 1 ms per second, so a test sees every retry without waiting for it. Throttling (rate limits,
 * 1 s pacing of writes) only where a test asks for it.
 */
export const retryingOctokit = (o: { throttle?: boolean } = {}): GitHubClient =>
  createTokenClient({
    token: "ghs_test",
    baseUrl: API,
    retries: true,
    throttle: o.throttle ?? false,
    retryBaseMs: 1,
  });

export interface Injected {
  /** How many requests the fault answered. */
  count: number;
}

/**
 * Answers the next `replies.length` requests matching method + path with the replies, in order
 * (register before a persistent fake: nock tries interceptors in the order they were added).
 */
export function inject(
  method: "get" | "post" | "put" | "patch" | "delete",
  path: string | RegExp,
  replies: [number, unknown, Record<string, string>?][],
  base = API,
): Injected {
  const seen: Injected = { count: 0 };
  for (const r of replies) {
    const scope = nock(base);
    scope
      .intercept(path, method.toUpperCase())
      .query(true)
      .reply(() => {
        seen.count++;
        return [r[0], r[1] as Record<string, unknown>, r[2] ?? {}];
      });
  }
  return seen;
}

import { ProbotOctokit } from "probot";
import { githubRetryOptions, githubThrottleHandlers } from "./github.js";
import { sharedWritePace } from "./write-pace.js";
import type { WritePaceOptions } from "./write-pace.js";

/**
 * Probot's Octokit with bg-agent's retry policy (only 5xx and network errors are retried; a 4xx
 * refusal is sent once) and rate-limit handlers. A function default, not an object: Probot hands
 * every client its own `throttle` options (its Redis connection when REDIS_URL is set), which are
 * kept; only the handlers are bg-agent's.
 */
export const BgProbotOctokit = ProbotOctokit.defaults((o: Record<string, unknown>) => ({
  ...o,
  retry: { ...githubRetryOptions(), ...(o.retry as object | undefined) },
  throttle: { ...(o.throttle as object | undefined), ...githubThrottleHandlers() },
}));

/**
 * BgProbotOctokit whose writes also take the store's shared pace per installation (replicas on
 * one PostgreSQL: src/integrations/write-pace.ts).
 */
export const pacedProbotOctokit = (o: WritePaceOptions): typeof BgProbotOctokit =>
  BgProbotOctokit.plugin(sharedWritePace(o));

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

export interface TokenClientOptions {
  token: string;
  baseUrl?: string;
  /** Tests hand in globalThis.fetch so nock sees the requests. */
  fetch?: typeof fetch;
  /** Off in unit tests. */
  retries?: boolean;
  userAgent?: string;
}

/** A client authenticated by a token (GITHUB_TOKEN in a runner, a PAT for the CLI). */
export function createTokenClient(o: TokenClientOptions): GitHubClient {
  registerSecret(o.token);
  const enabled = o.retries ?? true;
  return new TokenOctokit({
    auth: o.token,
    baseUrl: (o.baseUrl ?? "https://api.github.com").replace(/\/$/, ""),
    userAgent: o.userAgent ?? "bg-agent",
    request: o.fetch ? { fetch: o.fetch } : {},
    retry: { enabled },
    throttle: {
      enabled,
      onRateLimit: (_after: number, _opts: unknown, _o: unknown, count: number) => count < 2,
      onSecondaryRateLimit: (_after: number, _opts: unknown, _o: unknown, count: number) =>
        count < 1,
    },
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

/** Logins that are bots: `[bot]` suffix or type Bot. */
export function isBot(
  user: { login?: string | null; type?: string | null } | null | undefined,
): boolean {
  if (!user) return true;
  return user.type === "Bot" || /\[bot\]$/i.test(user.login ?? "");
}

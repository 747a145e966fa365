import { z } from "zod";
import type { GitHubClient } from "../../integrations/github.js";
import type { Logger } from "../../log.js";

/*
 * GitHub Enterprise Server versions older than merge queues have no `Repository.mergeQueue`,
 * `PullRequest.isInMergeQueue` or `Mutation.enqueuePullRequest` in their GraphQL schema, and
 * GitHub answers a query naming one with `Field 'mergeQueue' doesn't exist on type 'Repository'`
 * (HTTP 200 with `errors`, which Octokit throws as a GraphqlResponseError). bg-agent then falls
 * back to a query without them and remembers that, per API base URL, for the life of the process,
 * so one server's schema never affects another's and each server is logged once.
 */

/** A merge-queue capability a server's GraphQL schema may lack. */
export type GraphqlFeature = "merge_queue_fields" | "enqueue_mutation";

const missing = new Map<string, Set<GraphqlFeature>>();

/** The client's REST base URL (`https://api.github.com`, `https://ghe.example.com/api/v3`). */
export function baseUrlOf(octokit: GitHubClient): string {
  return octokit.request.endpoint.DEFAULTS.baseUrl.replace(/\/$/, "");
}

/** True when this server was found to lack `feature` earlier in this process. */
export function lacks(octokit: GitHubClient, feature: GraphqlFeature): boolean {
  return missing.get(baseUrlOf(octokit))?.has(feature) ?? false;
}

/** Remembers that this server lacks `feature`; logs it the first time only. */
export function markMissing(
  octokit: GitHubClient,
  feature: GraphqlFeature,
  log: Logger,
  detail: string,
): void {
  const baseUrl = baseUrlOf(octokit);
  const set = missing.get(baseUrl) ?? new Set<GraphqlFeature>();
  if (set.has(feature)) return;
  set.add(feature);
  missing.set(baseUrl, set);
  log.warn(
    { baseUrl, feature },
    feature === "merge_queue_fields"
      ? `this GitHub's GraphQL schema has no merge queue (${detail}): bg-agent reads PRs without it from now on and treats every branch as having no merge queue`
      : `this GitHub's GraphQL schema has no enqueuePullRequest (${detail}): bg-agent merges directly from now on`,
  );
}

/** For tests: forget what was learnt about every server. */
export function resetGraphqlCompat(): void {
  missing.clear();
}

const errorsSchema = z.array(
  z.object({
    message: z.string().default(""),
    extensions: z
      .object({ code: z.string().optional(), typeName: z.string().optional() })
      .passthrough()
      .nullish(),
  }),
);

const UNDEFINED_FIELD =
  /Field '([A-Za-z_][A-Za-z0-9_]*)' doesn't exist on type '([A-Za-z_][A-Za-z0-9_]*)'/;

/**
 * The fields (`Type.field`) a GraphQL response error says do not exist, when every error in it is
 * of that kind; null for any other error (network, permission, rate limit, a mix).
 */
export function undefinedFields(e: unknown): string[] | null {
  if (!(e instanceof Error) || e.name !== "GraphqlResponseError") return null;
  const parsed = errorsSchema.safeParse((e as Error & { errors?: unknown }).errors);
  if (!parsed.success || parsed.data.length === 0) return null;
  const out: string[] = [];
  for (const err of parsed.data) {
    const m = UNDEFINED_FIELD.exec(err.message);
    if (!m) return null;
    out.push(`${m[2]}.${m[1]}`);
  }
  return out;
}

/** True when `e` says only that some of `fields` (`Type.field`) do not exist, and at least one. */
export function onlyMissing(e: unknown, fields: readonly string[]): string[] | null {
  const names = undefinedFields(e);
  if (!names || !names.every((n) => fields.includes(n))) return null;
  return names;
}

import { z } from "zod";
import type { GitHubClient, RepoRef } from "../integrations/github.js";
import { fullName, isBot } from "../integrations/github.js";
import { readMarkers } from "../report/markers.js";
import type { Store } from "../store/index.js";
import { enqueueCommand } from "./enqueue.js";
import { MAX_PARSED, parseCommands } from "./parse.js";

/** How far back a worker's sweep looks for unanswered commands. */
export const SWEEP_LOOKBACK_MS = 48 * 3_600_000;

const commentSchema = z.object({
  id: z.number().int().positive(),
  body: z.string().nullish(),
  html_url: z.string(),
  issue_url: z.string(),
  created_at: z.string(),
  user: z.object({ login: z.string(), type: z.string().nullish() }).nullable(),
});

export interface CollectOptions {
  /** Comments created at or after this time (ms epoch or Date). */
  since: number | Date;
  /** bg-agent's login here (e.g. `github-actions[bot]` in a runner); any bot's reply markers count when absent. */
  selfLogin?: string;
}

export interface CollectResult {
  /** Comments listed. */
  scanned: number;
  /** Human comments with `/bg` lines. */
  found: number;
  /** Those bg-agent had answered already (reply marker found). */
  answered: number;
  /** Those already queued or handled in this store. */
  duplicate: number;
  queued: number;
}

/**
 * Standalone mode (no webhooks): lists the repository's issue and PR comments since a time, finds
 * `/bg` commands by people, skips those bg-agent already answered (its reply carries the marker
 * `reply:<commentId>`), and queues a `command` task for each of the rest, so each is acted on once.
 */
export async function collectCommands(
  octokit: GitHubClient,
  ref: RepoRef,
  store: Store,
  opts: CollectOptions,
): Promise<CollectResult> {
  const since = typeof opts.since === "number" ? opts.since : opts.since.getTime();
  const raw = await octokit.paginate(octokit.rest.issues.listCommentsForRepo, {
    ...ref,
    sort: "updated",
    direction: "asc",
    since: new Date(since).toISOString(),
    per_page: 100,
  });
  const self = opts.selfLogin?.toLowerCase();
  const answered = new Set<string>();
  const candidates: z.infer<typeof commentSchema>[] = [];
  for (const item of raw) {
    const c = commentSchema.safeParse(item);
    if (!c.success) continue;
    const login = c.data.user?.login.toLowerCase() ?? "";
    const ours = self !== undefined ? login === self : isBot(c.data.user);
    if (ours) {
      for (const m of readMarkers(c.data.body)) if (m.kind === "reply") answered.add(m.id);
      continue;
    }
    // Bots are never commands; neither are comments created before the window (only edited in it).
    if (isBot(c.data.user) || login === self) continue;
    if (Date.parse(c.data.created_at) < since) continue;
    candidates.push(c.data);
  }
  const result: CollectResult = {
    scanned: raw.length,
    found: 0,
    answered: 0,
    duplicate: 0,
    queued: 0,
  };
  const repo = fullName(ref);
  for (const c of candidates) {
    const { items, ignored } = parseCommands(c.body, MAX_PARSED);
    if (!items.length) continue;
    result.found++;
    if (answered.has(String(c.id))) {
      result.answered++;
      continue;
    }
    const number = Number(/\/issues\/(\d+)$/.exec(c.issue_url)?.[1]);
    if (!Number.isInteger(number) || number <= 0) continue;
    const r = await enqueueCommand(store, repo, {
      commentId: c.id,
      issueNumber: number,
      isPullRequest: /\/pull\/\d+/.test(c.html_url),
      author: c.user!.login,
      commands: items,
      ignored,
      deliveryId: null,
      commentUrl: c.html_url.slice(0, 500),
    });
    if (r.outcome === "queued") result.queued++;
    else result.duplicate++;
  }
  return result;
}

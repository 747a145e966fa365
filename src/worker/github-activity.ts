import { z } from "zod";
import type { GitHubClient, RepoRef } from "../integrations/github.js";
import { httpStatus } from "../integrations/github.js";
import type { Logger } from "../log.js";
import type { Store } from "../store/index.js";
import { errInline } from "../util/errors.js";

/**
 * Human activity as GitHub records it, for runs without the app (the Action, the CLI, connected
 * mode): no webhook tells a runner that people are at work, so it reads what GitHub keeps.
 *
 * One read is two requests: the repository's events (first page: pushes, reviews, issues and PRs
 * opened or closed, comments) and the newest issue and PR comments by `updated_at` (the events
 * API can lag by minutes; comments are the commonest activity and show at once). When the events
 * API answers 403 or 404 (a token without access to it), the read falls back to timestamps: the
 * newest issues and PRs opened and the newest review comments, and says so once.
 *
 * Bots never count (type Bot, a `[bot]` login: the Action's own `github-actions[bot]`, the app's
 * `<slug>[bot]`), nor the logins in `selfLogins`, nor comments carrying bg-agent's marker (a run
 * with a personal token writes as that person).
 */

export interface SeenActivity {
  login: string;
  /** For people: `commented on #12`, `pushed to main`, `opened PR #3`. */
  what: string;
  at: number;
}

const userSchema = z.object({ login: z.string(), type: z.string().optional() });
const time = z
  .string()
  .transform((s) => Date.parse(s))
  .refine((n) => Number.isFinite(n));

const eventSchema = z.object({
  type: z.string().nullable(),
  actor: userSchema,
  created_at: time,
  payload: z
    .object({
      action: z.string().optional(),
      ref: z.string().nullable().optional(),
      ref_type: z.string().optional(),
      number: z.number().optional(),
      issue: z
        .object({ number: z.number(), pull_request: z.unknown().optional() })
        .passthrough()
        .optional(),
      pull_request: z.object({ number: z.number() }).passthrough().optional(),
      comment: z.object({ body: z.string().nullable().optional() }).passthrough().optional(),
    })
    .passthrough()
    .optional(),
});

const commentSchema = z.object({
  user: userSchema.nullable(),
  created_at: time,
  updated_at: time,
  body: z.string().nullable().optional(),
  issue_url: z.string().optional(),
  pull_request_url: z.string().optional(),
});

const issueSchema = z.object({
  number: z.number(),
  user: userSchema.nullable(),
  created_at: time,
  pull_request: z.unknown().optional(),
});

const MARKER = "<!-- bg-agent:";
/** Events that are not people working in the repository. */
const NOT_WORK = new Set(["WatchEvent", "ForkEvent", "PublicEvent", "SponsorshipEvent"]);

export function isHumanLogin(
  u: { login: string; type?: string | undefined },
  self: ReadonlySet<string>,
): boolean {
  if (u.type === "Bot" || /\[bot\]$/i.test(u.login)) return false;
  return !self.has(u.login.toLowerCase());
}

const tail = (url: string | undefined): string => {
  const n = url?.match(/\/(\d+)$/)?.[1];
  return n ? `#${n}` : "an issue";
};

function describeEvent(e: z.infer<typeof eventSchema>): string | null {
  const p = e.payload ?? {};
  const n = p.issue?.number ?? p.pull_request?.number ?? p.number;
  const num = n !== undefined ? ` #${n}` : "";
  switch (e.type) {
    case "IssueCommentEvent":
      return `commented on${num || " an issue"}`;
    case "IssuesEvent":
      return `${p.action ?? "updated"} issue${num}`;
    case "PullRequestEvent":
      return `${p.action ?? "updated"} PR${num}`;
    case "PullRequestReviewEvent":
      return `reviewed PR${num}`;
    case "PullRequestReviewCommentEvent":
      return `commented on a review of PR${num}`;
    case "PullRequestReviewThreadEvent":
      return `${p.action ?? "updated"} a review thread on PR${num}`;
    case "PushEvent":
      return `pushed to ${(p.ref ?? "a branch").replace(/^refs\/heads\//, "")}`;
    case "CreateEvent":
    case "DeleteEvent":
      return `${e.type === "CreateEvent" ? "created" : "deleted"} ${p.ref_type ?? "a ref"}${p.ref ? ` ${p.ref}` : ""}`;
    case "ReleaseEvent":
      return `${p.action ?? "published"} a release`;
    case "GollumEvent":
      return "edited the wiki";
    default:
      return e.type ? e.type.replace(/Event$/, "").toLowerCase() : "acted";
  }
}

const later = (a: SeenActivity | null, b: SeenActivity | null): SeenActivity | null =>
  !a ? b : !b ? a : b.at > a.at ? b : a;

function each<T>(schema: z.ZodType<T>, data: unknown): T[] {
  if (!Array.isArray(data)) return [];
  const out: T[] = [];
  for (const d of data) {
    const r = schema.safeParse(d);
    if (r.success) out.push(r.data);
  }
  return out;
}

export interface ActivityReader {
  /** Reads GitHub (unless read less than `intervalMs` ago) and records what it saw in the store. */
  refresh(): Promise<void>;
  /** The latest human activity seen by any read of this run. */
  seen(): SeenActivity | null;
}

export interface ActivityReaderOptions {
  octokit: GitHubClient;
  ref: RepoRef;
  /** owner/name as the store knows it. */
  repo: string;
  store: Store;
  log: Logger;
  /** One line each, once per run: a fallback or a failed read. */
  warn: (message: string) => void;
  selfLogins?: readonly string[];
  /** At most one read per this interval (default 60 s; 0 reads on every call). */
  intervalMs?: number;
  now?: () => number;
}

/** The default interval between two reads of GitHub within one run. */
export const ACTIVITY_RECHECK_MS = 60_000;

export function githubActivityReader(o: ActivityReaderOptions): ActivityReader {
  const now = o.now ?? Date.now;
  const interval = o.intervalMs ?? ACTIVITY_RECHECK_MS;
  const self = new Set((o.selfLogins ?? []).map((l) => l.toLowerCase()));
  const warned = new Set<string>();
  const warnOnce = (key: string, message: string) => {
    if (warned.has(key)) return;
    warned.add(key);
    o.log.warn(message);
    o.warn(message);
  };
  let lastReadAt = Number.NEGATIVE_INFINITY;
  let eventsOff = false;
  let latest: SeenActivity | null = null;
  const human = (u: { login: string; type?: string | undefined } | null): u is { login: string } =>
    !!u && isHumanLogin(u, self);

  async function events(): Promise<SeenActivity | null> {
    if (eventsOff) return null;
    try {
      const { data } = await o.octokit.rest.activity.listRepoEvents({ ...o.ref, per_page: 100 });
      let best: SeenActivity | null = null;
      for (const e of each(eventSchema, data)) {
        if (!human(e.actor) || (e.type && NOT_WORK.has(e.type))) continue;
        if (e.payload?.comment?.body?.includes(MARKER)) continue;
        const what = describeEvent(e);
        if (what) best = later(best, { login: e.actor.login, what, at: e.created_at });
      }
      return best;
    } catch (e) {
      const status = httpStatus(e);
      if (status === 403 || status === 404) {
        eventsOff = true;
        warnOnce(
          "events",
          `The events API answered ${status} for ${o.repo} (the token cannot read it): human activity is taken from the timestamps of issues, pull requests and comments instead.`,
        );
        return null;
      }
      throw e;
    }
  }

  async function comments(): Promise<SeenActivity | null> {
    const { data } = await o.octokit.rest.issues.listCommentsForRepo({
      ...o.ref,
      sort: "updated",
      direction: "desc",
      per_page: 30,
    });
    let best: SeenActivity | null = null;
    for (const c of each(commentSchema, data)) {
      if (!human(c.user) || c.body?.includes(MARKER)) continue;
      const edited = c.updated_at > c.created_at;
      best = later(best, {
        login: c.user.login,
        what: `${edited ? "edited a comment on" : "commented on"} ${tail(c.issue_url)}`,
        at: Math.max(c.created_at, c.updated_at),
      });
    }
    return best;
  }

  /** Without the events API: issues and PRs opened, review comments. */
  async function timestamps(): Promise<SeenActivity | null> {
    const [issues, reviews] = await Promise.all([
      o.octokit.rest.issues.listForRepo({
        ...o.ref,
        state: "all",
        sort: "created",
        direction: "desc",
        per_page: 20,
      }),
      o.octokit.rest.pulls.listReviewCommentsForRepo({
        ...o.ref,
        sort: "updated",
        direction: "desc",
        per_page: 30,
      }),
    ]);
    let best: SeenActivity | null = null;
    for (const i of each(issueSchema, issues.data)) {
      if (!human(i.user)) continue;
      const kind = i.pull_request ? "PR" : "issue";
      best = later(best, {
        login: i.user.login,
        what: `opened ${kind} #${i.number}`,
        at: i.created_at,
      });
    }
    for (const c of each(commentSchema, reviews.data)) {
      if (!human(c.user) || c.body?.includes(MARKER)) continue;
      best = later(best, {
        login: c.user.login,
        what: `commented on a review of PR ${tail(c.pull_request_url)}`,
        at: Math.max(c.created_at, c.updated_at),
      });
    }
    return best;
  }

  /** One source's latest human activity; a failure other than the events API's 403/404 is said once. */
  async function attempt(
    what: string,
    source: () => Promise<SeenActivity | null>,
  ): Promise<SeenActivity | null> {
    try {
      return await source();
    } catch (e) {
      warnOnce(
        what,
        `Could not read ${what} from GitHub for ${o.repo} (${errInline(e, 160)}): LLM work is not held back by activity it cannot see there.`,
      );
      return null;
    }
  }

  async function read(): Promise<void> {
    let best = await attempt("the repository's events", events);
    best = later(best, await attempt("the repository's comments", comments));
    if (eventsOff) best = later(best, await attempt("issue and review timestamps", timestamps));
    if (!best) return;
    // Never in the future (a runner's clock behind GitHub's).
    const seen = { ...best, at: Math.min(best.at, now()) };
    latest = later(latest, seen);
    await o.store.activity.recordHuman(o.repo, seen.login, seen.at);
  }

  return {
    async refresh() {
      const t = now();
      if (t - lastReadAt < interval) return;
      lastReadAt = t;
      await read();
    },
    seen: () => latest,
  };
}

import { z } from "zod";
import type { Store } from "../../store/index.js";
import type { Proposal } from "../../store/proposals.js";
import type { Task } from "../../core/domain.js";
import { REQUESTED_PRIORITY } from "../../core/paused.js";
import type { GitHubClient, RepoRef } from "../../integrations/github.js";
import { readMarkers } from "../../report/markers.js";
import { hashOf } from "../../util/hash.js";
import { payloadSchema as fixPayloadSchema } from "./approved-plan.js";
import { provingTestSchema } from "./proving-test-schema.js";
import { FIX_LABEL } from "./report.js";
import { branchFor, parseTarget } from "./subject.js";

/** The trailer of a revision's commit (`bg-agent revision: 2`): how rounds are counted. */
export const REVISION_TRAILER = "bg-agent revision:";

/** Longest request text kept (a review body or a `/bg revise` line); the rest is cut. */
export const MAX_REQUEST_CHARS = 4_000;

/** One request for a revision: a changes-requested review, or a `/bg revise` comment. */
export const revisionRequestSchema = z.object({
  /** `review`: its author's permission is checked when the round runs; `command`: it was. */
  via: z.enum(["review", "command"]),
  by: z.string().min(1).max(100),
  /** Untrusted text (hidden text is removed before it reaches the model). */
  text: z.string().max(MAX_REQUEST_CHARS),
  /** The review's or the comment's id. */
  id: z.number().int().positive(),
});
export type RevisionRequest = z.infer<typeof revisionRequestSchema>;

/**
 * A revision task: a `fix` task with source `pr:<n>` that names the fix it revises (`key`,
 * `proposalId`, the issue `target`) and what people asked. Requests arriving while one is pending
 * join it (one round answers them all).
 */
export const revisionPayloadSchema = fixPayloadSchema.extend({
  target: z.string().min(1),
  revision: z.object({
    pr: z.number().int().positive(),
    requests: z.array(revisionRequestSchema).min(1).max(20),
  }),
});
export type RevisionPayload = z.infer<typeof revisionPayloadSchema>;

/** The fields of a pull request (webhook payload or REST answer) that make it a bg:fix PR. */
export const fixPullSchema = z.object({
  number: z.number().int().positive(),
  state: z.string(),
  body: z.string().nullish(),
  html_url: z.string().optional(),
  labels: z.array(z.object({ name: z.string() }).loose()).default([]),
  user: z.object({ login: z.string(), type: z.string().nullish() }).loose().nullish(),
  head: z.object({
    ref: z.string(),
    sha: z.string().min(1),
    repo: z.object({ full_name: z.string() }).loose().nullish(),
  }),
});
export type FixPull = z.infer<typeof fixPullSchema>;

/** A bg:fix pull request: which fix it carries. */
export interface FixPullInfo {
  key: string;
  /** `issue:12` or `linear:ENG-1`. */
  target: string;
  branch: string;
  headSha: string;
}

/**
 * Is this pull request one bg-agent opened for a fix? All of: the `bg:fix` label, a head branch
 * in this repository named `bg/fix-<issue>`, a body carrying bg-agent's `fix` marker whose key
 * names that issue, and a bot as its author (the app, or the Action's token). null otherwise.
 */
export function fixPullInfo(pr: FixPull, repoName: string): FixPullInfo | null {
  if (!pr.labels.some((l) => l.name === FIX_LABEL)) return null;
  if (pr.head.repo?.full_name.toLowerCase() !== repoName.toLowerCase()) return null;
  if (pr.user && pr.user.type !== "Bot") return null;
  const key = readMarkers(pr.body).find((m) => m.kind === "fix")?.id;
  if (!key) return null;
  const m = /^bg\/fix-(.+)$/.exec(pr.head.ref);
  if (!m) return null;
  const target = /^\d+$/.test(m[1]!) ? `issue:${m[1]}` : `linear:${m[1]}`;
  const parsed = parseTarget(target);
  if (!parsed || branchFor(parsed) !== pr.head.ref) return null;
  // The marker's key must be about the same issue: `owner/repo#12` or `ENG-123`.
  const keyTarget =
    parsed.kind === "issue"
      ? key.toLowerCase() === `${repoName.toLowerCase()}#${parsed.number}`
      : key === parsed.identifier;
  if (!keyTarget) return null;
  return { key, target, branch: pr.head.ref, headSha: pr.head.sha };
}

/**
 * The approved fix proposal a bg:fix PR carries out: the one its merge proposal names, else the
 * newest approved fix proposal of its issue. undefined when this store has neither.
 */
export async function fixProposalFor(
  store: Store,
  repo: string,
  pr: number,
  info: FixPullInfo,
): Promise<Proposal | undefined> {
  const merge = await store.proposals.latest(repo, `pr:${pr}`, "merge");
  const named = merge?.payload["fixProposalId"];
  if (typeof named === "number" && Number.isInteger(named) && named > 0) {
    const p = await store.proposals.get(named);
    if (p && p.kind === "fix" && p.status === "approved") return p;
  }
  const fix = await store.proposals.latest(repo, info.target, "fix");
  return fix && fix.status === "approved" ? fix : undefined;
}

/** A copy of the approved plan, for a runner that claims the round without this store. */
function approvedCopy(p: Proposal): Pick<RevisionPayload, "approved"> {
  const plan = p.payload["plan"];
  if (typeof plan !== "string" || !plan.trim()) return {};
  const files = p.payload["affectedFiles"];
  const test = provingTestSchema.safeParse(p.payload["provingTest"]);
  return {
    approved: {
      by: p.decidedBy ?? "a person",
      at: p.decidedAt ?? p.createdAt,
      contentHash: p.contentHash,
      plan,
      affectedFiles: Array.isArray(files)
        ? files.filter((f): f is string => typeof f === "string")
        : [],
      ...(test.success ? { provingTest: test.data } : {}),
    },
  };
}

/** How many revision rounds the PR's commits record (their `bg-agent revision: N` trailers). */
export async function revisionsDone(
  octokit: GitHubClient,
  ref: RepoRef,
  pr: number,
): Promise<number> {
  const commits = await octokit.paginate(octokit.rest.pulls.listCommits, {
    ...ref,
    pull_number: pr,
    per_page: 100,
  });
  let rounds = 0;
  for (const c of commits) {
    const m = new RegExp(`^${REVISION_TRAILER} (\\d+)$`, "m").exec(c.commit.message);
    if (m) rounds = Math.max(rounds, Number(m[1]));
  }
  return rounds;
}

export const limitReachedText = (max: number): string =>
  max === 0
    ? "🤖 bg-agent does not revise fix pull requests here: `fix.max_revisions` is 0 in `.github/bg-agent.yml`. Nothing was changed."
    : `🤖 bg-agent already made ${max} revision round${max === 1 ? "" : "s"} on this pull request, the limit (\`fix.max_revisions\` in \`.github/bg-agent.yml\`). Nothing was changed; a person can take it from here.`;

export type EnqueueRevisionResult =
  | { outcome: "queued"; task: Task }
  /** A pending revision of this PR took the request in (one round answers both). */
  | { outcome: "joined"; task: Task }
  /** The same request is queued already (a redelivery). */
  | { outcome: "duplicate"; task: Task };

/**
 * Queues a revision round of a fix PR (a `fix` task, source `pr:<n>`, asked-for priority so it
 * is not held back while people are active). A pending one takes the new request in.
 */
export async function enqueueRevision(
  store: Store,
  o: {
    repo: string;
    pr: number;
    key: string;
    proposal: Proposal;
    target: string;
    request: RevisionRequest;
    deliveryId?: string | null;
    now?: number;
  },
): Promise<EnqueueRevisionResult> {
  const source = `pr:${o.pr}`;
  // One transaction (today's store is synchronous inside it; the async store converts it).
  return await store.tx(async (t): Promise<EnqueueRevisionResult> => {
    const open = await t.tasks.open(o.repo, "fix", source);
    const pending =
      open?.status === "pending" ? revisionPayloadSchema.safeParse(open.payload) : null;
    const earlier = pending?.success ? pending.data.revision.requests : [];
    if (open && earlier.some((r) => r.via === o.request.via && r.id === o.request.id))
      return { outcome: "duplicate", task: open };
    const requests = [...earlier, o.request].slice(-20);
    const payload: RevisionPayload = {
      key: o.key,
      proposalId: o.proposal.id,
      ...approvedCopy(o.proposal),
      target: o.target,
      revision: { pr: o.pr, requests },
    };
    const r = await t.tasks.enqueue(
      {
        repo: o.repo,
        type: "fix",
        source,
        payload,
        contentHash: hashOf(requests.map((q) => `${q.via}:${q.id}`)),
        priority: REQUESTED_PRIORITY,
        deliveryId: o.deliveryId ?? null,
      },
      o.now,
    );
    if (r.outcome === "unchanged") return { outcome: "duplicate", task: r.task };
    return { outcome: r.outcome === "merged" ? "joined" : "queued", task: r.task };
  });
}

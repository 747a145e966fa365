import { z } from "zod";
import { httpStatus, isBot } from "../../integrations/github.js";
import type { ProcessorContext } from "../../core/worker-contract.js";
import { lacks, markMissing, onlyMissing } from "./graphql-compat.js";
import type { CheckInfo, MergeMethod, PullDetails, PullSnapshot, ReviewInfo } from "./types.js";

/*
 * Everything automerge knows about a PR comes from here: GitHub's REST and GraphQL APIs (and
 * bg-agent's own merge proposals). The PR's title and body are carried along only to fill the
 * commit message template and to find linked Linear issues; no decision reads them.
 */

const userSchema = z.object({ login: z.string(), type: z.string().nullish() }).nullable();

const pullSchema = z.object({
  number: z.number().int(),
  html_url: z.string(),
  title: z.string(),
  body: z.string().nullish(),
  state: z.enum(["open", "closed"]),
  merged: z.boolean().nullish(),
  draft: z.boolean().nullish(),
  user: userSchema,
  labels: z.array(z.object({ name: z.string() })).default([]),
  mergeable: z.boolean().nullish(),
  mergeable_state: z.string().nullish(),
  head: z.object({
    sha: z.string(),
    ref: z.string(),
    repo: z.object({ full_name: z.string() }).nullable(),
  }),
  base: z.object({ ref: z.string(), repo: z.object({ full_name: z.string() }) }),
});

const checkRunSchema = z.object({
  id: z.number(),
  name: z.string(),
  status: z.string(),
  conclusion: z.string().nullish(),
  started_at: z.string().nullish(),
});

const combinedStatusSchema = z.object({
  statuses: z
    .array(z.object({ context: z.string(), state: z.string(), created_at: z.string().nullish() }))
    .default([]),
});

const reviewSchema = z.object({
  id: z.number(),
  user: userSchema,
  state: z.string(),
});

const protectionSchema = z.object({
  required_status_checks: z
    .object({
      contexts: z.array(z.string()).default([]),
      checks: z.array(z.object({ context: z.string() })).default([]),
    })
    .nullish(),
});

const rulesSchema = z.array(
  z.object({
    type: z.string(),
    parameters: z
      .object({
        required_status_checks: z.array(z.object({ context: z.string() })).optional(),
      })
      .passthrough()
      .nullish(),
  }),
);

const repoSchema = z.object({
  allow_merge_commit: z.boolean().optional(),
  allow_squash_merge: z.boolean().optional(),
  allow_rebase_merge: z.boolean().optional(),
});

const graphSchema = z.object({
  repository: z.object({
    mergeQueue: z.object({ id: z.string() }).nullish(),
    pullRequest: z.object({
      id: z.string(),
      isInMergeQueue: z.boolean().nullish(),
      autoMergeRequest: z.object({ enabledAt: z.string().nullish() }).nullish(),
      reviewThreads: z.object({
        nodes: z.array(z.object({ isResolved: z.boolean() }).nullable()),
        pageInfo: z.object({ hasNextPage: z.boolean(), endCursor: z.string().nullish() }),
      }),
    }),
  }),
});

export const PULL_STATE_QUERY = `query($owner: String!, $repo: String!, $number: Int!, $base: String!, $cursor: String) {
  repository(owner: $owner, name: $repo) {
    mergeQueue(branch: $base) { id }
    pullRequest(number: $number) {
      id
      isInMergeQueue
      autoMergeRequest { enabledAt }
      reviewThreads(first: 100, after: $cursor) {
        nodes { isResolved }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
}`;

/** The same query for GitHub Enterprise Server versions without merge queues (no `$base`). */
export const PULL_STATE_QUERY_NO_MERGE_QUEUE = `query($owner: String!, $repo: String!, $number: Int!, $cursor: String) {
  repository(owner: $owner, name: $repo) {
    pullRequest(number: $number) {
      id
      autoMergeRequest { enabledAt }
      reviewThreads(first: 100, after: $cursor) {
        nodes { isResolved }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
}`;

/** The merge-queue fields of PULL_STATE_QUERY, as GraphQL errors name them. */
const MERGE_QUEUE_FIELDS = ["Repository.mergeQueue", "PullRequest.isInMergeQueue"] as const;

const time = (s: string | null | undefined): number | null => {
  if (!s) return null;
  const t = Date.parse(s);
  return Number.isNaN(t) ? null : t;
};

/** The PR itself (one call), or null when it does not exist. */
export async function readPull(
  ctx: ProcessorContext,
  number: number,
): Promise<PullSnapshot | null> {
  let raw: unknown;
  try {
    raw = (await ctx.octokit.rest.pulls.get({ ...ctx.repo, pull_number: number })).data;
  } catch (e) {
    if (httpStatus(e) === 404) return null;
    throw e;
  }
  const pr = pullSchema.parse(raw);
  return {
    repo: ctx.repoName,
    number: pr.number,
    title: pr.title,
    body: pr.body ?? "",
    url: pr.html_url,
    state: pr.state,
    merged: pr.merged ?? false,
    draft: pr.draft ?? false,
    author: { login: pr.user?.login ?? "ghost", isBot: isBot(pr.user) },
    labels: pr.labels.map((l) => l.name),
    headSha: pr.head.sha,
    headRef: pr.head.ref,
    headRepo: pr.head.repo?.full_name ?? null,
    baseRef: pr.base.ref,
    mergeable: pr.mergeable ?? null,
    mergeableState: pr.mergeable_state ?? "unknown",
  };
}

/** `GET /branches/{b}` (contents/metadata read): exists, and classic protection's summary. */
const branchSchema = z.object({
  protected: z.boolean().nullish(),
  protection: z
    .object({
      enabled: z.boolean().nullish(),
      required_status_checks: z
        .object({
          enforcement_level: z.string().nullish(),
          contexts: z.array(z.string()).nullish(),
          checks: z.array(z.object({ context: z.string() })).nullish(),
        })
        .nullish(),
    })
    .nullish(),
});
type BranchSummary = z.infer<typeof branchSchema>;

/** The branch, or null when it does not exist (404). */
async function readBranch(ctx: ProcessorContext, branch: string): Promise<BranchSummary | null> {
  try {
    const { data } = await ctx.octokit.rest.repos.getBranch({ ...ctx.repo, branch });
    return branchSchema.parse(data);
  } catch (e) {
    if (httpStatus(e) === 404) return null;
    throw e;
  }
}

export interface RequiredChecks {
  /** Required check names; null when none could be found (every check counts). */
  names: string[] | null;
  /** Where they came from, shown in the check run and `/bg simulate`. */
  source: string;
  mergeQueueRule: boolean;
}

/**
 * Required checks from classic branch protection and from rulesets, where readable.
 *
 * Classic protection: `GET /branches/{b}/protection` has the full settings but needs
 * `administration: read`, which bg-agent's app does not request (a PAT or another token may have
 * it). Without it GitHub answers 403 (or 404), and bg-agent uses the summary `GET /branches/{b}`
 * gives anyone who can read the repository: `protection.required_status_checks` with
 * `enforcement_level` (`off` | `non_admins` | `everyone`), `contexts` and `checks`. Rulesets come
 * from `GET /rules/branches/{b}` (metadata read). Only when none of this is readable does every
 * check count.
 */
export async function requiredChecks(
  ctx: ProcessorContext,
  base: string,
  branch: BranchSummary,
): Promise<RequiredChecks> {
  const names = new Set<string>();
  const sources: string[] = [];
  /** Why classic protection could not be read at all (then every check counts, unless rulesets name some). */
  let unreadable: string | null = null;
  /** No classic protection on the branch. */
  let unprotected = false;
  let protectionStatus: number | null = null;
  if (branch.protected === false) unprotected = true;
  else {
    try {
      const { data } = await ctx.octokit.rest.repos.getBranchProtection({
        ...ctx.repo,
        branch: base,
      });
      const rsc = protectionSchema.parse(data).required_status_checks;
      if (rsc) {
        rsc.contexts.forEach((c) => names.add(c));
        rsc.checks.forEach((c) => names.add(c.context));
        if (names.size) sources.push("branch protection");
      }
    } catch (e) {
      const s = httpStatus(e);
      if (s !== 404 && s !== 403) throw e;
      protectionStatus = s;
    }
  }
  if (protectionStatus !== null) {
    // The full settings are not readable (no `administration: read`, or no classic protection).
    const rsc = branch.protection?.required_status_checks;
    if (rsc && rsc.enforcement_level) {
      if (rsc.enforcement_level !== "off") {
        const before = names.size;
        (rsc.contexts ?? []).forEach((c) => names.add(c));
        (rsc.checks ?? []).forEach((c) => names.add(c.context));
        if (names.size > before) sources.push("branch protection, read from the branch summary");
      }
    } else if (protectionStatus === 403 || branch.protected) {
      unreadable = `branch protection not readable (${protectionStatus}, and no summary from the branch API)`;
    } else unprotected = true;
  }
  let mergeQueueRule = false;
  let rulesets = false;
  try {
    const { data } = await ctx.octokit.rest.repos.getBranchRules({
      ...ctx.repo,
      branch: base,
      per_page: 100,
    });
    const rules = rulesSchema.parse(data);
    rulesets = rules.length > 0;
    for (const r of rules) {
      if (r.type === "merge_queue") mergeQueueRule = true;
      if (r.type === "required_status_checks") {
        for (const c of r.parameters?.required_status_checks ?? []) names.add(c.context);
        if (!sources.includes("rulesets")) sources.push("rulesets");
      }
    }
  } catch (e) {
    const s = httpStatus(e);
    if (s !== 404 && s !== 403) throw e;
  }
  if (names.size === 0) {
    const why =
      unreadable ??
      (unprotected && !rulesets ? "no branch protection" : "no required checks configured");
    return { names: null, source: `${why}: every check counts`, mergeQueueRule };
  }
  return {
    names: [...names].sort(),
    source: `required by ${sources.join(" and ")}`,
    mergeQueueRule,
  };
}

async function readChecks(ctx: ProcessorContext, sha: string): Promise<CheckInfo[]> {
  const runs = z.array(checkRunSchema).parse(
    await ctx.octokit.paginate(ctx.octokit.rest.checks.listForRef, {
      ...ctx.repo,
      ref: sha,
      filter: "latest",
      per_page: 100,
    }),
  );
  // The newest run of each name counts (a re-run replaces the earlier result).
  const latest = new Map<string, (typeof runs)[number]>();
  for (const r of runs) {
    const prev = latest.get(r.name);
    if (!prev || r.id > prev.id) latest.set(r.name, r);
  }
  const out: CheckInfo[] = [...latest.values()].map((r) => {
    const done = r.status === "completed";
    const ok = ["success", "neutral", "skipped"].includes(r.conclusion ?? "");
    return {
      name: r.name,
      source: "check",
      state: !done ? "pending" : ok ? "success" : "failure",
      raw: done ? (r.conclusion ?? "completed") : r.status,
      since: time(r.started_at),
    };
  });
  const combined = combinedStatusSchema.parse(
    (await ctx.octokit.rest.repos.getCombinedStatusForRef({ ...ctx.repo, ref: sha, per_page: 100 }))
      .data,
  );
  for (const s of combined.statuses) {
    out.push({
      name: s.context,
      source: "status",
      state: s.state === "success" ? "success" : s.state === "pending" ? "pending" : "failure",
      raw: s.state,
      since: time(s.created_at),
    });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** Each reviewer's latest deciding review, with their current permission when it matters. */
async function readReviews(ctx: ProcessorContext, number: number): Promise<ReviewInfo[]> {
  const all = z.array(reviewSchema).parse(
    await ctx.octokit.paginate(ctx.octokit.rest.pulls.listReviews, {
      ...ctx.repo,
      pull_number: number,
      per_page: 100,
    }),
  );
  const latest = new Map<string, ReviewInfo>();
  for (const r of all.sort((a, b) => a.id - b.id)) {
    if (!r.user) continue;
    // A comment does not replace an approval or a change request (GitHub's own rule).
    if (!["APPROVED", "CHANGES_REQUESTED", "DISMISSED"].includes(r.state)) continue;
    latest.set(r.user.login.toLowerCase(), {
      login: r.user.login,
      isBot: isBot(r.user),
      state: r.state as ReviewInfo["state"],
      permission: null,
    });
  }
  const out = [...latest.values()];
  for (const r of out) {
    if (r.state !== "APPROVED" || r.isBot) continue;
    r.permission = await permissionOf(ctx, r.login);
  }
  return out.sort((a, b) => a.login.localeCompare(b.login));
}

/** `admin` | `write` | `read` | `none`; a user who is no collaborator (404) has `none`. */
export async function permissionOf(ctx: ProcessorContext, login: string): Promise<string> {
  try {
    const { data } = await ctx.octokit.rest.repos.getCollaboratorPermissionLevel({
      ...ctx.repo,
      username: login,
    });
    return z.object({ permission: z.string() }).parse(data).permission;
  } catch (e) {
    if (httpStatus(e) === 404) return "none";
    throw e;
  }
}

/** One page of the PR's GraphQL state, without the merge-queue fields where the server lacks them. */
async function graphPage(
  ctx: ProcessorContext,
  vars: { number: number; base: string; cursor: string | null },
): Promise<z.infer<typeof graphSchema>> {
  if (!lacks(ctx.octokit, "merge_queue_fields")) {
    try {
      return graphSchema.parse(
        await ctx.octokit.graphql(PULL_STATE_QUERY, { ...ctx.repo, ...vars }),
      );
    } catch (e) {
      const fields = onlyMissing(e, MERGE_QUEUE_FIELDS);
      if (!fields) throw e;
      markMissing(ctx.octokit, "merge_queue_fields", ctx.log, `no ${fields.join(", ")}`);
    }
  }
  const { number, cursor } = vars;
  return graphSchema.parse(
    await ctx.octokit.graphql(PULL_STATE_QUERY_NO_MERGE_QUEUE, { ...ctx.repo, number, cursor }),
  );
}

async function readGraph(
  ctx: ProcessorContext,
  number: number,
  base: string,
): Promise<{
  nodeId: string;
  unresolved: number;
  mergeQueue: boolean;
  inQueue: boolean;
  autoMerge: boolean;
}> {
  let cursor: string | null = null;
  let unresolved = 0;
  let first: z.infer<typeof graphSchema> | null = null;
  for (let page = 0; page < 20; page++) {
    const data = await graphPage(ctx, { number, base, cursor });
    first ??= data;
    const threads = data.repository.pullRequest.reviewThreads;
    unresolved += threads.nodes.filter((n) => n && !n.isResolved).length;
    if (!threads.pageInfo.hasNextPage || !threads.pageInfo.endCursor) break;
    cursor = threads.pageInfo.endCursor;
  }
  const pr = first!.repository.pullRequest;
  return {
    nodeId: pr.id,
    unresolved,
    // Absent (a server without merge queues): no merge queue.
    mergeQueue: !!first!.repository.mergeQueue,
    inQueue: pr.isInMergeQueue ?? false,
    autoMerge: !!pr.autoMergeRequest,
  };
}

async function allowedMethods(ctx: ProcessorContext): Promise<Record<MergeMethod, boolean>> {
  const r = repoSchema.parse((await ctx.octokit.rest.repos.get({ ...ctx.repo })).data);
  // The fields are missing when the token may not see them: then GitHub decides at merge time.
  return {
    squash: r.allow_squash_merge ?? true,
    merge: r.allow_merge_commit ?? true,
    rebase: r.allow_rebase_merge ?? true,
  };
}

/** The rest of the state: branches, protection, checks, reviews, conversations, merge queue. */
export async function readDetails(ctx: ProcessorContext, s: PullSnapshot): Promise<PullDetails> {
  const sameRepo = s.headRepo?.toLowerCase() === ctx.repoName.toLowerCase();
  const baseBranch = await readBranch(ctx, s.baseRef);
  const baseBranchExists = baseBranch !== null;
  const headBranchExists = sameRepo ? (await readBranch(ctx, s.headRef)) !== null : null;
  const required = baseBranch
    ? await requiredChecks(ctx, s.baseRef, baseBranch)
    : { names: null, source: "base branch missing: every check counts", mergeQueueRule: false };
  const checks = await readChecks(ctx, s.headSha);
  const reviews = await readReviews(ctx, s.number);
  const graph = await readGraph(ctx, s.number, s.baseRef);
  const methods = await allowedMethods(ctx);
  // A merge proposal exists only for fix PRs bg-agent opened: it marks one even if its label was removed.
  const proposal =
    (await ctx.store.proposals.latest(ctx.repoName, `pr:${s.number}`, "merge"))?.status ?? null;
  return {
    headBranchExists,
    baseBranchExists,
    requiredChecks: required.names,
    requiredChecksSource: required.source,
    checks,
    reviews,
    unresolvedThreads: graph.unresolved,
    nodeId: graph.nodeId,
    mergeQueue: {
      required: graph.mergeQueue || required.mergeQueueRule,
      source: graph.mergeQueue
        ? "the base branch has a merge queue"
        : required.mergeQueueRule
          ? "a ruleset requires a merge queue"
          : null,
    },
    inMergeQueue: graph.inQueue,
    autoMergeEnabled: graph.autoMerge,
    allowedMethods: methods,
    mergeProposal: proposal,
  };
}

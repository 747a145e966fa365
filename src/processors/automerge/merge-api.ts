import { z } from "zod";
import { publishCheckRun } from "../../report/check-runs.js";
import type { CheckConclusion } from "../../report/check-runs.js";
import { upsertComment } from "../../report/comments.js";
import type { ProcessorContext } from "../../worker/types.js";
import { evaluatePull } from "./evaluate.js";
import { lacks, markMissing, onlyMissing } from "./graphql-compat.js";
import { updateLinear } from "./report.js";
import type { Evaluation, MergeMethod, PullSnapshot } from "./types.js";

/*
 * Everything the automerge processor asks of GitHub (and Linear), as kodiak keeps its API client:
 * the reads that give it an evaluation, and the writes it decides on. Decisions never call GitHub
 * themselves; a test drives the processor with a fake of this interface.
 *
 * The writes throw GitHub's errors as they come (an object with a numeric `status`): the merge
 * step reads the status (405 refused, 409 head moved, ...) and decides what it means.
 */

/** The reads: a PR's evaluation and which PRs a task is about. */
export interface PullReader {
  /** Reads a PR and evaluates it from GitHub state alone; null when it does not exist. */
  evaluate(pr: number): Promise<Evaluation | null>;
  /** The open PRs (number and head). */
  openPulls(): Promise<{ number: number; headSha: string }[]>;
  /** Open PRs of this repository whose head is `sha`, lowest number first. */
  openPullsWithHead(sha: string): Promise<number[]>;
}

export interface CommitText {
  title: string;
  body: string;
}

export interface CheckRunWrite {
  name: string;
  headSha: string;
  conclusion: CheckConclusion;
  title: string;
  summary: string;
}

/** The writes, each pinned to the head SHA that was evaluated where GitHub allows it. */
export interface MergeApi extends PullReader {
  /** Merges the PR if its head is still `sha` (REST `PUT /pulls/{n}/merge`). */
  merge(o: { pr: number; sha: string; method: MergeMethod; commit?: CommitText }): Promise<void>;
  /** Whether this GitHub has the merge-queue mutation (older Enterprise Servers lack it). */
  canEnqueue(): boolean;
  /**
   * Adds the PR to the base's merge queue, pinned to `sha`: its position, or `"unsupported"` when
   * GitHub turns out to lack the mutation (remembered; the caller merges directly).
   */
  enqueue(o: { nodeId: string; sha: string }): Promise<{ position: number | null } | "unsupported">;
  /** Enables GitHub's auto-merge, pinned to `sha`. */
  enableAutoMerge(o: {
    nodeId: string;
    sha: string;
    method: MergeMethod;
    commit?: CommitText;
  }): Promise<void>;
  /** Brings the PR's branch up to date with its base if its head is still `sha`. */
  updateBranch(o: { pr: number; sha: string }): Promise<void>;
  /** Creates or updates bg-agent's check run on a head. */
  publishCheck(run: CheckRunWrite): Promise<void>;
  /** Creates or updates bg-agent's comment of `kind` on a PR. */
  comment(o: { pr: number; kind: string; body: string }): Promise<void>;
  /** Moves the Linear issues a merged PR links to `doneState`: their identifiers (none without Linear). */
  moveLinear(s: PullSnapshot, doneState: string): Promise<string[]>;
}

const ENQUEUE = `mutation($id: ID!, $sha: GitObjectID!) {
  enqueuePullRequest(input: {pullRequestId: $id, expectedHeadOid: $sha}) { mergeQueueEntry { id position } }
}`;

const AUTO_MERGE = `mutation($id: ID!, $sha: GitObjectID!, $mergeMethod: PullRequestMergeMethod!, $title: String, $body: String) {
  enablePullRequestAutoMerge(input: {pullRequestId: $id, expectedHeadOid: $sha, mergeMethod: $mergeMethod, commitHeadline: $title, commitBody: $body}) {
    pullRequest { autoMergeRequest { enabledAt } }
  }
}`;

const enqueueSchema = z.object({
  enqueuePullRequest: z
    .object({ mergeQueueEntry: z.object({ position: z.number().nullish() }).nullish() })
    .nullish(),
});
const openPullsSchema = z.array(
  z.object({ number: z.number().int(), head: z.object({ sha: z.string() }) }),
);
const associatedSchema = z.array(
  z.object({
    number: z.number().int(),
    state: z.string(),
    head: z.object({ sha: z.string() }),
    base: z.object({ repo: z.object({ full_name: z.string() }) }),
  }),
);

/** The MergeApi over the context's Octokit (and its Linear gateway, if any). */
export function octokitMergeApi(ctx: ProcessorContext): MergeApi {
  const { octokit, repo } = ctx;
  return {
    evaluate: (pr) => evaluatePull(ctx, pr),

    async openPulls() {
      const prs = openPullsSchema.parse(
        await octokit.paginate(octokit.rest.pulls.list, { ...repo, state: "open", per_page: 100 }),
      );
      return prs.map((p) => ({ number: p.number, headSha: p.head.sha }));
    },

    async openPullsWithHead(sha) {
      const prs = associatedSchema.parse(
        await octokit.paginate(octokit.rest.repos.listPullRequestsAssociatedWithCommit, {
          ...repo,
          commit_sha: sha,
          per_page: 100,
        }),
      );
      return prs
        .filter(
          (p) =>
            p.state === "open" &&
            p.head.sha === sha &&
            p.base.repo.full_name.toLowerCase() === ctx.repoName.toLowerCase(),
        )
        .map((p) => p.number)
        .sort((a, b) => a - b);
    },

    async merge({ pr, sha, method, commit }) {
      await octokit.rest.pulls.merge({
        ...repo,
        pull_number: pr,
        sha,
        merge_method: method,
        ...(commit ? { commit_title: commit.title, commit_message: commit.body } : {}),
      });
    },

    canEnqueue: () => !lacks(octokit, "enqueue_mutation"),

    async enqueue({ nodeId, sha }) {
      try {
        const data = enqueueSchema.parse(await octokit.graphql(ENQUEUE, { id: nodeId, sha }));
        return { position: data.enqueuePullRequest?.mergeQueueEntry?.position ?? null };
      } catch (e) {
        const fields = onlyMissing(e, ["Mutation.enqueuePullRequest"]);
        if (!fields) throw e;
        markMissing(octokit, "enqueue_mutation", ctx.log, `no ${fields.join(", ")}`);
        return "unsupported";
      }
    },

    async enableAutoMerge({ nodeId, sha, method, commit }) {
      await octokit.graphql(AUTO_MERGE, {
        id: nodeId,
        sha,
        mergeMethod: method.toUpperCase(),
        ...(commit ? { title: commit.title, body: commit.body } : {}),
      });
    },

    async updateBranch({ pr, sha }) {
      await octokit.rest.pulls.updateBranch({ ...repo, pull_number: pr, expected_head_sha: sha });
    },

    async publishCheck(run) {
      await publishCheckRun(octokit, repo, run);
    },

    async comment({ pr, kind, body }) {
      await upsertComment(octokit, repo, pr, kind, pr, body);
    },

    async moveLinear(s, doneState) {
      return ctx.env.linear ? updateLinear(ctx.env.linear, s, doneState, ctx.log) : [];
    },
  };
}

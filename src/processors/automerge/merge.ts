import { z } from "zod";
import { httpStatus } from "../../integrations/github.js";
import type { ProcessorContext } from "../../core/worker-contract.js";
import type { AutomergeConfig } from "./evaluate.js";
import { evaluatePull } from "./evaluate.js";
import { lacks, markMissing, onlyMissing } from "./graphql-compat.js";
import type { Evaluation, MergeMethod, PullSnapshot } from "./types.js";
import { errText } from "../../util/errors.js";

/** How soon to re-evaluate after the head moved or the branch was updated. */
export const HEAD_MOVED_RECHECK_MS = 60_000;
export const UPDATED_RECHECK_MS = 5 * 60_000;

export type MergeResult =
  | { kind: "merged"; sha: string; method: MergeMethod }
  | { kind: "queued"; via: "merge_queue" | "auto_merge"; detail: string }
  /** The branch was brought up to date; new checks run on a new head. */
  | { kind: "updated"; detail: string }
  /** Re-evaluate later without counting a failure (the head moved). */
  | { kind: "retry"; reason: string; inMs: number }
  /** GitHub refused (405 and the like): waiting, with GitHub's reason. */
  | { kind: "refused"; reason: string }
  /** The re-read right before merging found something unmet. */
  | { kind: "not_ready" };

const ENQUEUE = `mutation($id: ID!, $sha: GitObjectID!) {
  enqueuePullRequest(input: {pullRequestId: $id, expectedHeadOid: $sha}) { mergeQueueEntry { id position } }
}`;

const AUTO_MERGE = `mutation($id: ID!, $sha: GitObjectID!, $mergeMethod: PullRequestMergeMethod!, $title: String, $body: String) {
  enablePullRequestAutoMerge(input: {pullRequestId: $id, expectedHeadOid: $sha, mergeMethod: $mergeMethod, commitHeadline: $title, commitBody: $body}) {
    pullRequest { autoMergeRequest { enabledAt } }
  }
}`;

/** Fills `{title}`, `{number}`, `{body}`, `{author}` in a commit title or body template. */
export function fillTemplate(
  template: string,
  s: Pick<PullSnapshot, "title" | "number" | "body" | "author">,
): string {
  const values: Record<string, string> = {
    title: s.title,
    number: String(s.number),
    body: s.body,
    author: s.author.login,
  };
  return template.replace(/\{(title|number|body|author)\}/g, (_m, k: string) => values[k] ?? "");
}

export function commitMessage(
  cfg: AutomergeConfig,
  s: PullSnapshot,
): { title: string; body: string } {
  return {
    title:
      fillTemplate(cfg.commit_title, s).replace(/\r?\n/g, " ").trim().slice(0, 250) ||
      `#${s.number}`,
    body: fillTemplate(cfg.commit_body, s).slice(0, 60_000),
  };
}

const errorMessage = (e: unknown): string => {
  return errText(e)
    .replace(/\s+-\s+https:\/\/docs\.github\.com\S*/g, "")
    .slice(0, 300);
};

/**
 * Merges an evaluated PR, after reading everything again: only when the fresh evaluation is
 * still ready and the head is still the SHA that was evaluated; the merge call pins that SHA.
 * `fresh` receives the re-read evaluation (the one to report).
 */
export async function mergeIfStillReady(
  ctx: ProcessorContext,
  evaluated: Evaluation,
): Promise<{ result: MergeResult; fresh: Evaluation }> {
  const sha = evaluated.snapshot.headSha;
  const fresh = await evaluatePull(ctx, evaluated.snapshot.number);
  if (!fresh) return { result: { kind: "not_ready" }, fresh: evaluated };
  if (fresh.snapshot.headSha !== sha) {
    return {
      result: {
        kind: "retry",
        reason: `the head moved from ${sha.slice(0, 7)} to ${fresh.snapshot.headSha.slice(0, 7)} after evaluation; re-evaluate later`,
        inMs: HEAD_MOVED_RECHECK_MS,
      },
      fresh,
    };
  }
  if (!fresh.ready || !fresh.snapshot.details || !fresh.method.method)
    return { result: { kind: "not_ready" }, fresh };
  return { result: await performMerge(ctx, fresh), fresh };
}

async function performMerge(ctx: ProcessorContext, ev: Evaluation): Promise<MergeResult> {
  const s = ev.snapshot;
  const d = s.details!;
  const method = ev.method.method!;
  const cfg = ctx.config.automerge;
  const msg = commitMessage(cfg, s);
  // A server without `enqueuePullRequest` (older GitHub Enterprise Server) merges directly; the
  // merge is still subject to the branch's rules, so GitHub refuses it if they forbid it.
  if (ev.via === "merge_queue" && !lacks(ctx.octokit, "enqueue_mutation")) {
    if (d.inMergeQueue)
      return { kind: "queued", via: "merge_queue", detail: "already in the merge queue" };
    try {
      const data = z
        .object({
          enqueuePullRequest: z
            .object({ mergeQueueEntry: z.object({ position: z.number().nullish() }).nullish() })
            .nullish(),
        })
        .parse(await ctx.octokit.graphql(ENQUEUE, { id: d.nodeId, sha: s.headSha }));
      const pos = data.enqueuePullRequest?.mergeQueueEntry?.position;
      return {
        kind: "queued",
        via: "merge_queue",
        detail: `added to the merge queue (${d.mergeQueue.source ?? "automerge.merge_queue"})${pos ? `, position ${pos}` : ""}`,
      };
    } catch (e) {
      const fields = onlyMissing(e, ["Mutation.enqueuePullRequest"]);
      if (!fields) return graphqlRefusal(e, "GitHub did not add it to the merge queue");
      markMissing(ctx.octokit, "enqueue_mutation", ctx.log, `no ${fields.join(", ")}`);
    }
  }
  if (ev.via === "auto_merge") {
    if (d.autoMergeEnabled)
      return { kind: "queued", via: "auto_merge", detail: "GitHub auto-merge is already enabled" };
    try {
      await ctx.octokit.graphql(AUTO_MERGE, {
        id: d.nodeId,
        sha: s.headSha,
        mergeMethod: method.toUpperCase(),
        ...(method === "rebase" ? {} : { title: msg.title, body: msg.body }),
      });
      return { kind: "queued", via: "auto_merge", detail: `GitHub auto-merge enabled (${method})` };
    } catch (e) {
      // GitHub refuses auto-merge for a PR that can merge right now ("clean status"): merge it.
      if (!/clean status/i.test(errorMessage(e)))
        return graphqlRefusal(e, "GitHub did not enable auto-merge");
      ctx.log.info({ pr: s.number }, "auto-merge refused for a clean PR; merging directly");
    }
  }
  try {
    await ctx.octokit.rest.pulls.merge({
      ...ctx.repo,
      pull_number: s.number,
      sha: s.headSha,
      merge_method: method,
      ...(method === "rebase" ? {} : { commit_title: msg.title, commit_message: msg.body }),
    });
    return { kind: "merged", sha: s.headSha, method };
  } catch (e) {
    const status = httpStatus(e);
    if (status === 409) {
      return {
        kind: "retry",
        reason: `GitHub says the head moved (409: ${errorMessage(e)}); re-evaluate later`,
        inMs: HEAD_MOVED_RECHECK_MS,
      };
    }
    if (status === 405 || status === 403 || status === 422) {
      return {
        kind: "refused",
        reason: `GitHub refused the merge (${status}: ${errorMessage(e)})`,
      };
    }
    throw e;
  }
}

function graphqlRefusal(e: unknown, what: string): MergeResult {
  const status = httpStatus(e);
  if (status !== undefined && status >= 500) throw e;
  return { kind: "refused", reason: `${what}: ${errorMessage(e)}` };
}

/** Brings a PR that is behind up to date (`automerge.update_branch`), pinned to the evaluated head. */
export async function updateBranch(ctx: ProcessorContext, ev: Evaluation): Promise<MergeResult> {
  const s = ev.snapshot;
  try {
    await ctx.octokit.rest.pulls.updateBranch({
      ...ctx.repo,
      pull_number: s.number,
      expected_head_sha: s.headSha,
    });
    return {
      kind: "updated",
      detail: `updated ${s.headRef} with ${s.baseRef}; waiting for the checks on the new head`,
    };
  } catch (e) {
    const status = httpStatus(e);
    // 422 "expected head sha didn't match current head ref": someone pushed; look again soon.
    if (status === 409 || (status === 422 && /expected/i.test(errorMessage(e)))) {
      return {
        kind: "retry",
        reason: `could not update the branch (${status}: ${errorMessage(e)})`,
        inMs: HEAD_MOVED_RECHECK_MS,
      };
    }
    if (status === 403 || status === 422) {
      return {
        kind: "refused",
        reason: `GitHub refused to update the branch (${status}: ${errorMessage(e)})`,
      };
    }
    throw e;
  }
}

import { z } from "zod";
import type { EmitterWebhookEventName } from "@octokit/webhooks";
import type { TxStore } from "../store/index.js";
import { configForNewWork, parsePayload, rememberRepo, targetOf } from "./common.js";
import type { EventTarget } from "./common.js";
import { onChangesRequested } from "./review-revision.js";
import type { IntakeDeps, WebhookEvent } from "./types.js";

export const PULL_REQUEST_EVENTS = [
  "pull_request.opened",
  "pull_request.reopened",
  "pull_request.synchronize",
  "pull_request.ready_for_review",
  "pull_request.labeled",
  "pull_request.unlabeled",
  "pull_request.closed",
] as const satisfies readonly EmitterWebhookEventName[];

export const PULL_REQUEST_REVIEW_EVENTS = [
  "pull_request_review.submitted",
  "pull_request_review.dismissed",
] as const satisfies readonly EmitterWebhookEventName[];

const pullRequestSchema = z.object({
  number: z.number().int().positive(),
  state: z.string(),
  draft: z.boolean().optional(),
  head: z.object({
    sha: z.string().min(1),
    repo: z.object({ full_name: z.string() }).nullish(),
  }),
});

const payloadSchema = z.object({
  action: z.string(),
  pull_request: pullRequestSchema,
  repository: z.object({ full_name: z.string() }).optional(),
});

/** The actions after which a fork's PR head may carry a new `.github/bg-agent.yml`. */
const FORK_CONFIG_CHECK_ACTIONS: readonly string[] = ["opened", "reopened", "synchronize"];

export interface AutomergeTarget {
  pr: number;
  headSha?: string;
}

/**
 * Queues one `automerge` evaluation per PR (source `pr:<n>`): a pending one is refreshed with the
 * newest head SHA; a running one gets exactly one follow-up, so an event during an evaluation is
 * never lost. Returns how many were created or refreshed.
 */
export async function enqueueAutomerge(
  store: TxStore,
  t: EventTarget,
  prs: AutomergeTarget[],
  deliveryId: string,
): Promise<number> {
  let n = 0;
  for (const p of prs) {
    const r = await store.tasks.enqueue({
      repo: t.repo,
      type: "automerge",
      source: `pr:${p.pr}`,
      payload: { pr: p.pr, ...(p.headSha ? { headSha: p.headSha } : {}) },
      deliveryId,
    });
    if (r.outcome !== "unchanged") n++;
  }
  return n;
}

/** Cancels what is pending for a PR (every task type with source `pr:<n>`). */
export async function cancelForPr(
  store: TxStore,
  t: EventTarget,
  pr: number,
  reason: string,
): Promise<number> {
  return await store.tasks.cancelPending({ repo: t.repo, source: `pr:${pr}` }, reason);
}

async function onPrChange(deps: IntakeDeps, event: WebhookEvent): Promise<void> {
  const t = await targetOf(deps, event);
  if (!t) return;
  const p = parsePayload(payloadSchema, event, t.log);
  if (!p) return;
  const pr = p.pull_request;
  const log = t.log.child({ pr: pr.number });
  if (pr.state !== "open" || (event.name === "pull_request" && p.action === "closed")) {
    const cancelled = await deps.store.tx(async (txs) => {
      await rememberRepo(txs, t);
      return await cancelForPr(txs, t, pr.number, `PR #${pr.number} was closed`);
    });
    log.info({ cancelled }, "PR closed: pending work cancelled");
    return;
  }
  // A fork's pushes never reach this repository's webhooks (src/intake/push.ts checks branches
  // here): its PR gets a config_check that first lists the PR's files (in the worker).
  const fork = pr.head.repo?.full_name;
  if (
    event.name === "pull_request" &&
    FORK_CONFIG_CHECK_ACTIONS.includes(p.action) &&
    fork &&
    p.repository &&
    fork.toLowerCase() !== p.repository.full_name.toLowerCase()
  ) {
    const queued = await deps.store.tx(async (txs) => {
      await rememberRepo(txs, t);
      return (
        await txs.tasks.enqueue({
          repo: t.repo,
          type: "config_check",
          source: `pr:${pr.number}`,
          payload: { pr: pr.number, headSha: pr.head.sha },
          deliveryId: event.id,
        })
      ).outcome;
    });
    if (queued !== "unchanged") deps.wake?.();
  }
  if (pr.draft) {
    log.debug("skip: draft PR (queued when it is marked ready for review)");
    return;
  }
  const config = await configForNewWork(deps, t);
  if (!config) return;
  if (!config.automerge.enabled) {
    log.debug("skip: automerge is disabled");
    return;
  }
  const queued = await deps.store.tx(async (txs) => {
    await rememberRepo(txs, t);
    return await enqueueAutomerge(txs, t, [{ pr: pr.number, headSha: pr.head.sha }], event.id);
  });
  log.info({ queued, headSha: pr.head.sha }, "automerge evaluation queued");
  if (queued) deps.wake?.();
}

/** pull_request opened/reopened/synchronize/ready_for_review/labeled/unlabeled/closed. */
export const onPullRequest = onPrChange;

/**
 * pull_request_review submitted/dismissed: the PR's approvals changed; a review requesting changes
 * on a bg:fix PR also queues a revision round (./review-revision.ts).
 */
export async function onPullRequestReview(deps: IntakeDeps, event: WebhookEvent): Promise<void> {
  await onPrChange(deps, event);
  await onChangesRequested(deps, event);
}

import { z } from "zod";
import { isBot } from "../integrations/github.js";
import {
  MAX_REQUEST_CHARS,
  enqueueRevision,
  fixProposalFor,
  fixPullInfo,
  fixPullSchema,
} from "../processors/fix/revision-request.js";
import { configForNewWork, parsePayload, rememberRepo, targetOf } from "./common.js";
import type { IntakeDeps, WebhookEvent } from "./types.js";

const stateSchema = z.object({ review: z.object({ state: z.string() }) });

const reviewPayloadSchema = z.object({
  action: z.string(),
  review: z.object({
    id: z.number().int().positive(),
    state: z.string(),
    body: z.string().nullish(),
    user: z.object({ login: z.string().min(1), type: z.string().nullish() }).nullish(),
  }),
  pull_request: fixPullSchema,
});

/**
 * `pull_request_review.submitted` requesting changes on a bg:fix pull request: a revision round
 * is queued (no GitHub call here; the reviewer's permission and `fix.max_revisions` are checked
 * when it runs). Any other review, or one on another pull request, queues nothing here.
 */
export async function onChangesRequested(deps: IntakeDeps, event: WebhookEvent): Promise<void> {
  const t = await targetOf(deps, event);
  if (!t) return;
  if (t.action !== "submitted") return;
  // Most reviews are not about this: only a request for changes is parsed further (and logged).
  const state = stateSchema.safeParse(event.payload);
  if (!state.success || state.data.review.state.toLowerCase() !== "changes_requested") return;
  const p = parsePayload(reviewPayloadSchema, event, t.log);
  if (!p) return;
  const user = p.review.user;
  const self = deps.selfLogin?.toLowerCase();
  if (!user || isBot(user) || (self !== undefined && user.login.toLowerCase() === self)) return;
  const pr = p.pull_request;
  const info = pr.state === "open" ? fixPullInfo(pr, t.repo) : null;
  if (!info) return;
  const log = t.log.child({ pr: pr.number, review: p.review.id });
  const config = await configForNewWork(deps, t);
  if (!config) return;
  const proposal = await fixProposalFor(deps.store, t.repo, pr.number, info);
  if (proposal === undefined) {
    log.info("skip: no approved fix proposal is recorded for this bg:fix pull request");
    return;
  }
  await rememberRepo(deps.store, t);
  const r = await enqueueRevision(deps.store, {
    repo: t.repo,
    pr: pr.number,
    key: info.key,
    proposal,
    target: info.target,
    request: {
      via: "review",
      by: user.login,
      text: (p.review.body ?? "").slice(0, MAX_REQUEST_CHARS),
      id: p.review.id,
    },
    deliveryId: event.id,
  });
  log.info({ task: r.task.id, outcome: r.outcome }, "changes requested: revision queued");
  if (r.outcome !== "duplicate") deps.wake?.();
}

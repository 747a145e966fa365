import { z } from "zod";
import { enqueueCommand } from "../commands/enqueue.js";
import { MAX_PARSED, parseCommands } from "../commands/parse.js";
import type { CommandPayload } from "../commands/types.js";
import { isBot } from "../integrations/github.js";
import type { IntakeDeps, WebhookEvent } from "./types.js";

/** The fields of an `issue_comment` payload bg-agent relies on. */
export const issueCommentPayloadSchema = z.object({
  action: z.string(),
  comment: z.object({
    id: z.number().int().positive(),
    body: z.string().nullish(),
    html_url: z.string().optional(),
    user: z.object({ login: z.string().min(1), type: z.string().nullish() }).nullable(),
  }),
  issue: z.object({
    number: z.number().int().positive(),
    pull_request: z.object({}).loose().nullish(),
  }),
  repository: z.object({ full_name: z.string().min(3) }),
});

export type IssueCommentOutcome =
  | { outcome: "queued"; taskId: number; commands: number }
  | { outcome: "duplicate"; taskId: number }
  | { outcome: "ignored"; reason: string };

/**
 * `issue_comment`: a new comment's `/bg` lines become one `command` task (source
 * `comment:<id>`). Edited and deleted comments are not commands; neither is anything a bot wrote.
 * No API calls: parsing is cheap and bounded; the worker does the rest.
 */
export async function onIssueComment(
  deps: IntakeDeps,
  event: WebhookEvent,
): Promise<IssueCommentOutcome> {
  const parsed = issueCommentPayloadSchema.safeParse(event.payload);
  if (!parsed.success) {
    deps.log.warn(
      { delivery: event.id, issues: parsed.error.issues.slice(0, 3) },
      "issue_comment payload not understood; ignored",
    );
    return { outcome: "ignored", reason: "payload not understood" };
  }
  const p = parsed.data;
  if (p.action !== "created") return { outcome: "ignored", reason: `action ${p.action}` };
  const user = p.comment.user;
  const login = user?.login ?? "";
  const self = deps.selfLogin?.toLowerCase();
  if (isBot(user) || (self !== undefined && login.toLowerCase() === self)) {
    return { outcome: "ignored", reason: "comment by a bot" };
  }
  const repo = p.repository.full_name;
  const log = deps.log.child({ repo, comment: p.comment.id });
  const { items, ignored } = parseCommands(p.comment.body, MAX_PARSED);
  if (!items.length) {
    await deps.store.activity.recordHuman(repo, login);
    return { outcome: "ignored", reason: "no /bg command" };
  }
  const payload: CommandPayload = {
    commentId: p.comment.id,
    issueNumber: p.issue.number,
    isPullRequest: !!p.issue.pull_request,
    author: login,
    commands: items,
    ignored,
    deliveryId: event.id,
    ...(p.comment.html_url ? { commentUrl: p.comment.html_url.slice(0, 500) } : {}),
  };
  const r = await enqueueCommand(deps.store, repo, payload);
  if (r.outcome === "duplicate") {
    log.info({ task: r.task.id }, "command comment already taken in");
    return { outcome: "duplicate", taskId: r.task.id };
  }
  log.info({ task: r.task.id, commands: items.length, ignored }, "command queued");
  deps.wake?.();
  return { outcome: "queued", taskId: r.task.id, commands: items.length };
}

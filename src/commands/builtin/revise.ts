import { z } from "zod";
import { httpStatus } from "../../integrations/github.js";
import {
  MAX_REQUEST_CHARS,
  enqueueRevision,
  fixProposalFor,
  fixPullInfo,
  fixPullSchema,
  limitReachedText,
  revisionsDone,
} from "../../processors/fix/revision-request.js";
import { parseError, parsed, writeCommand } from "../command.js";
import { whilePaused } from "../task-lookup.js";

const NOT_A_FIX_PR =
  "`/bg revise` works on a pull request bg-agent opened for a fix (labelled `bg:fix`, on its `bg/fix-…` branch). Nothing was changed.";

/**
 * `/bg revise <what>`: one more round on a fix pull request bg-agent opened: the model's edits for
 * `<what>` (untrusted text), the same checks as the fix, and one new commit on the same branch.
 * At most `fix.max_revisions` rounds; the budget applies to each.
 */
export const revise = writeCommand({
  name: "revise",
  schema: z.object({ name: z.literal("revise"), what: z.string().min(1).max(MAX_REQUEST_CHARS) }),
  usage: "/bg revise <what to change>",
  summary:
    "On a `bg:fix` pull request: one more revision round for what you ask (a new commit on the same branch, after the tests and the proving test). At most `fix.max_revisions` rounds; a review requesting changes asks for one too.",
  parse({ words }) {
    const what = words.join(" ").trim();
    if (!what) return parseError("revise needs what to change, after the command");
    return parsed({ name: "revise", what });
  },
  format: () => "/bg revise …",
  auditArgs: (c) => c.what.slice(0, 200),
  async handle(call, cmd) {
    const { ctx } = call;
    if (!call.isPullRequest) return { text: NOT_A_FIX_PR, audit: { result: "not a pull request" } };
    let data: unknown;
    try {
      data = (await ctx.octokit.rest.pulls.get({ ...ctx.repo, pull_number: call.number })).data;
    } catch (e) {
      if (httpStatus(e) !== 404) throw e;
      return { text: NOT_A_FIX_PR, audit: { result: "no such pull request" } };
    }
    const pull = fixPullSchema.safeParse(data);
    const info = pull.success ? fixPullInfo(pull.data, ctx.repoName) : null;
    if (!pull.success || !info) return { text: NOT_A_FIX_PR, audit: { result: "not a bg:fix PR" } };
    if (pull.data.state !== "open")
      return {
        text: "This pull request is closed, so bg-agent does not revise it. Nothing was changed.",
        audit: { result: "PR closed" },
      };
    const max = ctx.config.fix.max_revisions;
    const done = await revisionsDone(ctx.octokit, ctx.repo, call.number);
    if (done >= max) return { text: limitReachedText(max), audit: { result: "limit reached" } };
    const proposal = await fixProposalFor(ctx.store, ctx.repoName, call.number, info);
    if (proposal === undefined)
      return {
        text: "bg-agent has no record of the approved fix plan this pull request carries out, so it cannot revise it here. Nothing was changed.",
        audit: { result: "no fix proposal" },
      };
    if (call.dryRun) return { text: `(dry run) Would queue revision round ${done + 1} of ${max}.` };
    const r = await enqueueRevision(ctx.store, {
      repo: ctx.repoName,
      pr: call.number,
      key: info.key,
      proposal,
      target: info.target,
      request: {
        via: "command",
        by: call.actor,
        text: cmd.what,
        id: call.commentId ?? call.now,
      },
      deliveryId: call.deliveryId,
      now: call.now,
    });
    const joined =
      r.outcome === "joined" ? " It joins the round already queued (one round answers both)." : "";
    const waits = whilePaused(
      call,
      " bg-agent is paused here, so it runs after `/bg resume` (or when the pause ends).",
    );
    return {
      text: `🔁 Queued revision round ${done + 1} of ${max} (task ${r.task.id}).${joined} bg-agent adds one commit to this pull request once the tests and the proving test pass, and comments here with what changed. The budget applies.${waits}`,
      audit: {
        result: `revision task ${r.task.id} queued (${r.outcome})`,
        target: `pr:${call.number}`,
      },
    };
  },
});

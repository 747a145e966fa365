import { upsertComment } from "../../report/comments.js";
import type { ProcessorContext } from "../../worker/types.js";
import type { Target } from "./subject.js";

/** Posts on the issue (GitHub: bg-agent's `fix` comment, updated in place; Linear: a comment). */
export async function commentOnIssue(
  ctx: ProcessorContext,
  key: string,
  target: Target | null,
  body: string,
): Promise<void> {
  if (ctx.env.dryRun) {
    ctx.log.info({ key }, `dry-run: would comment on ${key}:\n${body}`);
    return;
  }
  if (target?.kind === "issue") {
    await upsertComment(ctx.octokit, ctx.repo, target.number, "fix", key, body);
  } else if (target?.kind === "linear" && ctx.env.linear) {
    const issue = await ctx.env.linear.getIssue(target.identifier);
    if (issue) await ctx.env.linear.comment(issue.id, body);
  }
}

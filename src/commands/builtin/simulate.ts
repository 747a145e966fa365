import { simulateAutomerge } from "../../processors/automerge/simulate.js";
import { errInline } from "../../util/errors.js";
import { infoCommand } from "../command.js";

/** `/bg simulate`: on a PR, the automerge evaluation as it stands, merging nothing. */
export const simulate = infoCommand({
  name: "simulate",
  summary: "On a PR: the full automerge evaluation, merging nothing.",
  async handle(call) {
    if (!call.isPullRequest) {
      return {
        text: "`/bg simulate` works on pull requests: it shows whether bg-agent would merge the PR now, and what stops it. Comment it on a PR.",
      };
    }
    try {
      // simulateAutomerge's Markdown has its own heading ("... (nothing was merged or changed)"),
      // the condition table and the result: posted as it is.
      const { markdown } = await simulateAutomerge(call.ctx, call.number);
      return { text: markdown };
    } catch (e) {
      call.ctx.log.warn({ err: e, pr: call.number }, "simulate failed");
      const msg = errInline(e, 300);
      return {
        text: `⚠️ I could not evaluate this pull request: ${msg}. Nothing was merged; try again later.`,
      };
    }
  },
});

import { z } from "zod";
import { sanitizeInline } from "../../report/sanitize.js";
import { rejectTask } from "../../schedule/proposals.js";
import { parsed, writeCommand } from "../command.js";
import { decisionOf } from "../decisions.js";
import { proposalToDecide } from "../recover.js";
import { describe, isWhat, notOpen, taskName, whatSchema } from "../resolve.js";

/** The longest reason kept. */
const MAX_REASON = 500;

/** `/bg reject [what] [reason]`: dismisses an open proposal; the same content is not proposed again. */
export const reject = writeCommand({
  name: "reject",
  schema: z.object({
    name: z.literal("reject"),
    what: whatSchema.optional(),
    reason: z.string().max(MAX_REASON).optional(),
  }),
  usage: "/bg reject [what] [reason...]",
  summary:
    "Dismiss the open proposal (not proposed again for the same content); `what` as for approve (a task as `task:<name>`). Anything after it is kept as the reason.",
  parse({ words }) {
    const [head, ...tail] = words;
    const hasWhat = head !== undefined && isWhat(head, false);
    const what = hasWhat ? head : undefined;
    const reason = (hasWhat ? tail : words).join(" ").trim().slice(0, MAX_REASON);
    return parsed({ name: "reject", ...(what ? { what } : {}), ...(reason ? { reason } : {}) });
  },
  format: (c) => (c.what ? `/bg reject ${c.what}` : "/bg reject"),
  auditArgs: (c) => [c.what, c.reason].filter(Boolean).join(" ") || null,
  async handle(call, cmd) {
    const r = await proposalToDecide(call, cmd.what, "reject");
    if ("reply" in r) return r.reply;
    const p = r.proposal;
    const reason = cmd.reason ?? null;
    const why = reason ? ` Reason noted: “${sanitizeInline(reason, 300)}”.` : "";
    if (p.kind === "task") {
      // rejectTask rejects the proposal and removes its proposed schedule together.
      const name = taskName(p);
      if (
        !name ||
        !(await rejectTask(call.ctx.store, call.ctx.repoName, name, call.actor, reason, call.now))
      ) {
        const closed = notOpen((await call.ctx.store.proposals.get(p.id)) ?? p);
        return {
          text:
            closed ??
            `I could not reject ${describe(p)}: its proposed schedule is missing or no longer proposed. Nothing was changed.`,
          audit: {
            result: closed ? "raced" : "not rejected: no proposed schedule",
            target: p.target,
          },
        };
      }
      return {
        text: `🚫 Rejected ${describe(p)}: its proposed schedule is removed, and bg-agent will not propose the same definition again.${why}`,
        audit: {
          result: `rejected proposal ${p.id}${reason ? `: ${reason}` : ""}`,
          target: p.target,
        },
      };
    }
    if (!(await call.ctx.store.proposals.decide(p.id, "rejected", call.actor, reason, call.now))) {
      return {
        text:
          notOpen((await call.ctx.store.proposals.get(p.id))!) ?? "The proposal changed meanwhile.",
        audit: { result: "raced", target: p.target },
      };
    }
    return {
      text: `🚫 Rejected ${describe(p)}. bg-agent will not propose it again unless the content changes.${why}`,
      audit: {
        result: `rejected proposal ${p.id}${reason ? `: ${reason}` : ""}`,
        target: p.target,
      },
      ...decisionOf(p, "rejected", call),
    };
  },
});

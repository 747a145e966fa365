import { sanitizeInline } from "../../report/sanitize.js";
import type { Command } from "../types.js";
import { describe, notOpen, resolveProposal } from "./resolve.js";
import type { Handler } from "./types.js";

/** `/bg reject [what] [reason]`: dismisses an open proposal; the same content is not proposed again. */
export const reject: Handler<Extract<Command, { name: "reject" }>> = async (call, cmd) => {
  const r = resolveProposal(call, cmd.what, "reject");
  if ("none" in r)
    return { text: r.none, audit: { result: "nothing to reject", target: call.where } };
  const p = r.proposal;
  const closed = notOpen(p);
  if (closed)
    return { text: closed, audit: { result: `not open (${p.status})`, target: p.target } };
  if (call.dryRun) return { text: `(dry run) Would reject ${describe(p)}.` };
  const reason = cmd.reason ?? null;
  if (!call.ctx.store.proposals.decide(p.id, "rejected", call.actor, reason, call.now)) {
    return {
      text: notOpen(call.ctx.store.proposals.get(p.id)!) ?? "The proposal changed meanwhile.",
      audit: { result: "raced", target: p.target },
    };
  }
  const why = reason ? ` Reason noted: “${sanitizeInline(reason, 300)}”.` : "";
  return {
    text: `🚫 Rejected ${describe(p)}. bg-agent will not propose it again unless the content changes.${why}`,
    audit: { result: `rejected proposal ${p.id}${reason ? `: ${reason}` : ""}`, target: p.target },
  };
};

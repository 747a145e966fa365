import { z } from "zod";
import { readState, stateBlock } from "../report/markers.js";
import { ownComments } from "../report/own-comments.js";
import type { ThreadComment } from "../report/own-comments.js";
import type { Proposal } from "../store/proposals.js";

/**
 * A fix proposal approved or rejected by a command. bg-agent's reply to the command carries it in
 * its hidden state block, so a later run with an empty store (the Action) or another process (the
 * app, a connected runner) knows the proposal for that content was decided and does not offer it
 * again. The reply is also what marks the command as handled, so the two are written together.
 */
export interface Decision {
  kind: "fix";
  /** `issue:12`. */
  target: string;
  /** The issue content hash the decided plan was made for. */
  hash: string;
  status: "approved" | "rejected";
  by: string;
  /** ms epoch. */
  at: number;
}

const decisionSchema = z.object({
  kind: z.literal("fix"),
  target: z.string().regex(/^issue:\d{1,9}$/),
  hash: z.string().min(1).max(200),
  status: z.enum(["approved", "rejected"]),
  by: z.string().min(1).max(100),
  at: z.number().int().nonnegative(),
});

const replyStateSchema = z.object({
  v: z.literal(1),
  decisions: z.array(z.unknown()).max(50),
});

/** The hidden block for a reply that decided something; "" when it decided nothing. */
export function decisionsBlock(decisions: readonly Decision[]): string {
  return decisions.length ? `\n${stateBlock({ v: 1, decisions })}` : "";
}

/**
 * The decision on record for a fix proposal (target and content hash) in bg-agent's replies on the
 * thread (trusted as `isOwnAuthor` says), or undefined. The newest wins.
 */
export function decisionOnRecord(
  comments: readonly ThreadComment[],
  target: string,
  hash: string,
  selfLogin?: string,
): Decision | undefined {
  let found: Decision | undefined;
  for (const c of ownComments(comments, "reply", null, selfLogin)) {
    const state = replyStateSchema.safeParse(readState(c.body));
    if (!state.success) continue;
    for (const raw of state.data.decisions) {
      const d = decisionSchema.safeParse(raw);
      if (!d.success || d.data.target !== target || d.data.hash !== hash) continue;
      if (!found || d.data.at >= found.at) found = d.data;
    }
  }
  return found;
}

/**
 * For a handler's result: a fix plan of a GitHub issue decided by `actor`, to be recorded in the
 * reply, so no other process or later run offers the same plan again. Nothing for other proposals.
 */
export function decisionOf(
  p: Proposal,
  status: Decision["status"],
  call: { actor: string; now: number },
): { decision?: Decision } {
  if (p.kind !== "fix" || !/^issue:\d+$/.test(p.target)) return {};
  return {
    decision: {
      kind: "fix",
      target: p.target,
      hash: p.contentHash,
      status,
      by: call.actor,
      at: call.now,
    },
  };
}

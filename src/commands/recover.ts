import {
  analysisKey,
  findAnalysisRecord,
  withReanalysisRequested,
} from "../processors/analysis/public.js";
import type { AnalysisState } from "../processors/analysis/public.js";
import type { ThreadComment } from "../report/own-comments.js";
import type { Proposal } from "../store/proposals.js";
import { errInline } from "../util/errors.js";
import { issueContentHash } from "../util/hash.js";
import type { CommandCall, HandlerResult } from "./command.js";
import type { Decision } from "./decisions.js";
import { decisionOnRecord } from "./decisions.js";
import type { Resolution } from "./resolve.js";
import { describe, notOpen, resolveProposal } from "./resolve.js";

type Verb = "approve" | "reject";

/** Why the thread could not be read, or its comments. */
async function threadComments(call: CommandCall): Promise<readonly ThreadComment[] | string> {
  try {
    return await call.comments();
  } catch (e) {
    call.ctx.log.warn({ err: e, issue: call.number }, "could not read the issue's comments");
    return errInline(e, 200);
  }
}

/**
 * What `approve` / `reject` is about, where another process may have made the fix proposal.
 *
 * A fix proposal lives in the store of the process that ran the analysis; the Action starts every
 * run with an empty store, and the app does not see a connected runner's store. bg-agent's own
 * comments on the issue are the shared record: the analysis comment's state block holds the plan
 * (its content hash, verdict, files), and bg-agent's replies hold the decisions taken on it
 * (../decisions.ts). So, on a GitHub issue:
 * - no fix proposal in the store: it is recovered from the analysis comment (`recoverFixProposal`);
 * - an open one: a decision on record in a reply is applied first, so it is not decided twice.
 * Linear issues' plans (`/bg approve ENG-123`) are not recovered: they work where the analysis ran.
 */
export async function resolveWithRecord(
  call: CommandCall,
  what: string | undefined,
  verb: Verb,
): Promise<Resolution> {
  if (call.isPullRequest) return await resolveProposal(call, what, verb);
  const { store, repoName } = call.ctx;
  const target = `issue:${call.number}`;
  const about = what?.toLowerCase();
  if (
    (about === undefined || about === "fix") &&
    !(await store.proposals.latest(repoName, target, "fix"))
  ) {
    const recovered = await recoverFixProposal(call, verb);
    if (recovered) return recovered;
  }
  const r = await resolveProposal(call, what, verb);
  if ("proposal" in r && r.proposal.kind === "fix" && r.proposal.target === target) {
    return { proposal: await withDecisionOnRecord(call, r.proposal) };
  }
  return r;
}

/**
 * The open proposal `approve` / `reject` decides (as `resolveWithRecord` finds it), or the reply
 * when there is nothing to decide: none found, already decided or expired, or a dry run.
 */
export async function proposalToDecide(
  call: CommandCall,
  what: string | undefined,
  verb: Verb,
): Promise<{ proposal: Proposal } | { reply: HandlerResult }> {
  const r = await resolveWithRecord(call, what, verb);
  if ("none" in r)
    return { reply: { text: r.none, audit: { result: `nothing to ${verb}`, target: call.where } } };
  const p = r.proposal;
  const closed = notOpen(p);
  if (closed)
    return {
      reply: { text: closed, audit: { result: `not open (${p.status})`, target: p.target } },
    };
  if (call.dryRun) return { reply: { text: `(dry run) Would ${verb} ${describe(p)}.` } };
  return { proposal: p };
}

/** An open fix proposal with the decision bg-agent's replies on the issue record for it, if any. */
async function withDecisionOnRecord(call: CommandCall, p: Proposal): Promise<Proposal> {
  if (p.status !== "proposed") return p;
  const comments = await threadComments(call);
  if (typeof comments === "string") return p;
  const d = decisionOnRecord(comments, p.target, p.contentHash, call.selfLogin);
  return d ? await decided(call, p, d) : p;
}

/** The proposal as decided by `d`: in the store, or (dry run: no writes) only in the answer. */
async function decided(call: CommandCall, p: Proposal, d: Decision): Promise<Proposal> {
  const reason = "decided earlier (recorded in bg-agent's reply on the issue)";
  if (call.dryRun || p.id === 0)
    return { ...p, status: d.status, decidedBy: d.by, decidedAt: d.at, reason };
  await call.ctx.store.proposals.decide(p.id, d.status, d.by, reason, d.at);
  return (await call.ctx.store.proposals.get(p.id)) ?? p;
}

/**
 * The fix proposal of bg-agent's analysis comment on this issue, put in the store (not in a dry
 * run), or an answer saying why there is none to act on; null when there is no analysis comment.
 * Only bg-agent's own comment counts (`isOwnAuthor`, the marker first), and only for the issue's
 * current content: an edited issue is analysed again before a plan for it can be approved.
 */
export async function recoverFixProposal(
  call: CommandCall,
  verb: Verb,
): Promise<Resolution | null> {
  const { ctx } = call;
  const key = analysisKey(ctx.repoName, call.number);
  const log = ctx.log.child({ recover: key });
  const comments = await threadComments(call);
  if (typeof comments === "string")
    return {
      none: `I could not read this issue's comments to find bg-agent's analysis (${comments}). Nothing was changed; please try again.`,
    };
  const record = findAnalysisRecord(comments, ctx.repoName, call.number, call.selfLogin);
  if (!record) return null;
  const { comment: mine, state } = record;
  if (!state) {
    log.warn({ comment: mine.id }, "bg-agent's analysis comment has no readable state");
    return {
      none: `bg-agent's analysis comment on this issue has no readable state (was it edited?), so there is no fix plan to ${verb} from it. bg-agent analyses the issue again when its title or description changes.`,
    };
  }
  if (!state.should_fix)
    return {
      none: `bg-agent's analysis found this issue not worth fixing now, so there is no fix plan to ${verb}. It is analysed again when its title or description changes.`,
    };
  if (state.reanalyse)
    return {
      none: `A new analysis of this issue is on its way (asked for earlier): bg-agent posts a new plan on its next run, and that plan can be ${verb}d then.`,
    };

  let issue: { title: string; body?: string | null };
  try {
    ({ data: issue } = await ctx.octokit.rest.issues.get({
      ...ctx.repo,
      issue_number: call.number,
    }));
  } catch (e) {
    log.warn({ err: e }, "could not read the issue");
    return {
      none: `I could not read this issue to check that bg-agent's plan still fits it (${errInline(e, 200)}). Nothing was changed; please try again.`,
    };
  }
  if (issueContentHash(issue.title, issue.body) !== state.hash) {
    log.info("the issue changed since its analysis: not recovering the plan");
    return {
      none: `This issue's title or description changed after bg-agent analysed it, so the plan in its analysis may no longer fit and was not ${verb}d. bg-agent analyses the issue again (on its next run, while it carries a tech-debt label) and posts a new plan; ${verb} that one.`,
    };
  }

  const target = `issue:${call.number}`;
  const d = decisionOnRecord(comments, target, state.hash, call.selfLogin);
  if (!d && !state.plan?.trim()) return askForReanalysis(call, mine, state, verb);

  const input = {
    repo: ctx.repoName,
    kind: "fix" as const,
    target,
    contentHash: state.hash,
    payload: {
      key,
      plan: state.plan ?? "",
      affectedFiles: state.affected_files,
      complexity: state.complexity,
      recoveredFrom: mine.html_url,
    },
  };
  const p: Proposal = call.dryRun
    ? {
        id: 0,
        ...input,
        status: "proposed",
        decidedBy: null,
        decidedAt: null,
        reason: null,
        createdAt: call.now,
      }
    : await ctx.store.proposals.propose(input, call.now);
  log.info(
    { proposal: p.id, decided: d?.status ?? null },
    "fix proposal recovered from the analysis comment",
  );
  return { proposal: d ? await decided(call, p, d) : p };
}

/**
 * An analysis comment from before plans were kept in its state: nothing safe to start a fix from.
 * Its state's hash is cleared (not in a dry run), so the next sweep analyses the issue again.
 */
async function askForReanalysis(
  call: CommandCall,
  mine: ThreadComment,
  state: AnalysisState,
  verb: Verb,
): Promise<Resolution> {
  const { ctx } = call;
  const text = `bg-agent's analysis of this issue predates bg-agent keeping the plan with the analysis comment, so there is no plan to start a fix from and nothing was ${verb}d. The issue will be re-analysed on bg-agent's next run (while it carries a tech-debt label); ${verb} the new plan then.`;
  if (call.dryRun) return { none: `(dry run) ${text}` };
  const body = withReanalysisRequested({ comment: mine, state });
  try {
    await ctx.octokit.rest.issues.updateComment({ ...ctx.repo, comment_id: mine.id, body });
  } catch (e) {
    ctx.log.warn({ err: e, comment: mine.id }, "could not mark the analysis for re-analysis");
    return {
      none: `bg-agent's analysis of this issue predates bg-agent keeping the plan with the analysis comment, so there is no plan to start a fix from and nothing was ${verb}d. I could not ask for a new analysis (${errInline(e, 200)}); edit the issue or try again.`,
    };
  }
  return { none: text };
}

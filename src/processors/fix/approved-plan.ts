import { z } from "zod";
import type { Proposal } from "../../store/proposals.js";
import type { Task } from "../../core/domain.js";
import type { ProcessorContext } from "../../core/worker-contract.js";
import type { Target } from "./subject.js";
import { parseTarget } from "./subject.js";
import type { ProvingTest } from "./proving-test-schema.js";
import { cleanTest, provingTestSchema } from "./proving-test-schema.js";

/**
 * A fix task's payload: `{key, proposalId}`, and (from `/bg approve`) `approved`, a copy of the
 * approved proposal. A runner in connected mode claims the app's fix task without the app's store,
 * so the copy is what it carries out; wherever the proposal itself is in the store, that wins.
 */
export const payloadSchema = z.object({
  key: z.string().min(1),
  proposalId: z.number().int().positive(),
  approved: z
    .object({
      by: z.string().min(1),
      at: z.number().int().nonnegative(),
      contentHash: z.string().min(1),
      plan: z.string().min(1),
      affectedFiles: z.array(z.string()).default([]),
      provingTest: provingTestSchema.optional(),
    })
    .optional(),
});
const planSchema = z.object({
  plan: z.string().min(1),
  affectedFiles: z.array(z.string()).default([]),
  // A malformed test is no test (the fix then asks the model for one), not a refused plan.
  provingTest: provingTestSchema.optional().catch(undefined),
});

export interface FixPlan {
  plan: string;
  affectedFiles: string[];
  /** The test the plan says shows the problem (fails now, passes once fixed). */
  provingTest?: ProvingTest;
}

/** What a fix task asks for, once checked against the store. */
export type ApprovedPlan =
  /** The payload is not `{key, proposalId}`: nothing to report on. */
  | { ok: false; invalid: true }
  /** Not carried out: `reason` is posted on the issue (if `target`). */
  | { ok: false; invalid: false; key: string; target: Target | null; reason: string }
  | { ok: true; key: string; proposal: Proposal; plan: FixPlan; target: Target };

/** Step 1: the approved proposal a fix task names, its issue and its plan. */
export async function loadApprovedPlan(ctx: ProcessorContext, task: Task): Promise<ApprovedPlan> {
  const payload = payloadSchema.safeParse(task.payload);
  if (!payload.success) return { ok: false, invalid: true };
  const { key, proposalId, approved } = payload.data;
  // This store's proposal of that id, if it is about this task's issue (in connected mode the id
  // is the app's, and this store's own proposals are numbered on their own).
  const found = await ctx.store.proposals.get(proposalId);
  const stored = found && found.target === task.source ? found : undefined;
  // Another process's proposal (connected mode): the approved copy, unless this store has it.
  const proposal: Proposal | undefined =
    approved && !stored
      ? {
          id: proposalId,
          repo: ctx.repoName,
          kind: "fix",
          target: task.source,
          contentHash: approved.contentHash,
          status: "approved",
          payload: {
            key,
            plan: approved.plan,
            affectedFiles: approved.affectedFiles,
            ...(approved.provingTest ? { provingTest: approved.provingTest } : {}),
          },
          decidedBy: approved.by,
          decidedAt: approved.at,
          reason: null,
          createdAt: approved.at,
        }
      : stored;
  const target = parseTarget(proposal?.target ?? task.source);
  const refused = (reason: string): ApprovedPlan => ({
    ok: false,
    invalid: false,
    key,
    target,
    reason,
  });
  if (
    !proposal ||
    proposal.repo.toLowerCase() !== ctx.repoName.toLowerCase() ||
    proposal.kind !== "fix"
  ) {
    return refused(`fix proposal ${proposalId} does not exist for this repository.`);
  }
  if (proposal.status !== "approved") {
    return refused(`the fix proposal (${proposalId}) is ${proposal.status}, not approved.`);
  }
  if (!target) return refused(`the proposal's target ${proposal.target} is not an issue.`);
  const planned = planSchema.safeParse(proposal.payload);
  const analysis = await ctx.store.analyses.get(key);
  const test = planned.success ? cleanTest(planned.data.provingTest) : undefined;
  const plan: FixPlan | null = planned.success
    ? {
        plan: planned.data.plan,
        affectedFiles: planned.data.affectedFiles,
        ...(test ? { provingTest: test } : {}),
      }
    : analysis
      ? { plan: analysis.plan, affectedFiles: analysis.affectedFiles }
      : null;
  if (!plan || !plan.plan.trim()) return refused("the approved proposal carries no plan.");
  return { ok: true, key, proposal, plan, target };
}

import { linkPolicyFor } from "../../report/link-policy.js";
import type { TaskOutcome } from "../../core/worker-contract.js";
import type { FixRun } from "./fix-run.js";
import { commentOnIssue } from "./issue-comment.js";
import { upsertPullRequest } from "./pull-request.js";
import type { Proof } from "./proving-test.js";
import type { Verification } from "./report.js";
import {
  FIX_LABEL,
  UNVERIFIED_LABEL,
  isVerified,
  prBody,
  prTitle,
  successComment,
} from "./report.js";

/**
 * The last steps: push the branch and open (or update) the pull request, propose its merge (it
 * waits for a person), and report on the issue. In dry-run, says what it would push and open.
 */
export async function openPullRequest(
  run: FixRun,
  verification: Verification,
  proof?: Proof,
): Promise<TaskOutcome> {
  const { ctx, ws, subject, log } = run;
  const headSha = (await ws.git(["rev-parse", "HEAD"])).trim();
  const files = [...run.changed.values()]
    .filter((c) => c.before !== c.after)
    .map((c) => ({ path: c.path, added: c.before === null }))
    .sort((a, b) => a.path.localeCompare(b.path));
  const body = prBody({
    subject,
    proposalId: run.proposal.id,
    approvedBy: run.proposal.decidedBy,
    plan: run.plan.plan,
    summary: run.summary,
    files,
    verification,
    ...(proof ? { proof } : {}),
    links: linkPolicyFor(ctx),
  });
  const verified = isVerified(verification, proof);
  const labels = verified ? [FIX_LABEL] : [FIX_LABEL, UNVERIFIED_LABEL];
  if (ctx.env.dryRun) {
    log.info(
      {
        branch: subject.branch,
        headSha,
        files: files.map((f) => f.path),
        verification: verification.status,
      },
      `dry-run: would push ${subject.branch} and open a pull request "${prTitle(subject)}" with labels ${labels.join(", ")}`,
    );
    return {
      status: "done",
      result: {
        dryRun: true,
        branch: subject.branch,
        files: files.map((f) => f.path),
        verification: verification.status,
        proof: proof?.status ?? "none",
      },
    };
  }

  await ws.push(subject.branch);
  const pr = await upsertPullRequest(ctx.octokit, ctx.repo, {
    branch: subject.branch,
    base: run.baseBranch,
    title: prTitle(subject),
    body,
    labels,
    removeLabels: verified ? [UNVERIFIED_LABEL] : [],
  });
  // The PR waits for a person: automerge needs a human approving review or this proposal approved.
  await ctx.store.proposals.propose({
    repo: ctx.repoName,
    kind: "merge",
    target: `pr:${pr.number}`,
    contentHash: headSha,
    payload: {
      key: subject.key,
      fixProposalId: run.proposal.id,
      branch: subject.branch,
      headSha,
      verified,
    },
  });
  await commentOnIssue(
    ctx,
    subject.key,
    run.target,
    successComment({
      pr: pr.number,
      url: pr.url,
      verification,
      ...(proof ? { proof } : {}),
      updated: pr.action === "updated",
    }),
  );
  const done = `${pr.action} #${pr.number} (${files.length} file${files.length === 1 ? "" : "s"}, ${verification.status})`;
  await run.record("ok", done, { url: pr.url });
  log.info({ pr: pr.number, branch: subject.branch, headSha }, `fix: ${done}`);
  return {
    status: "done",
    result: {
      pr: pr.number,
      url: pr.url,
      branch: subject.branch,
      headSha,
      verification: verification.status,
      proof: proof?.status ?? "none",
    },
  };
}

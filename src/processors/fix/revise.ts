import type { Task } from "../../core/domain.js";
import type { ProcessorContext, TaskOutcome } from "../../core/worker-contract.js";
import { checkPermission } from "../../commands/permission.js";
import { httpStatus } from "../../integrations/github.js";
import { upsertComment } from "../../report/comments.js";
import { linkPolicyFor } from "../../report/link-policy.js";
import { stripHidden } from "../../context/hidden-text.js";
import { loadApprovedPlan } from "./approved-plan.js";
import { defaultProjectContext } from "./default-context.js";
import { applyEdits, askForEdits } from "./first-edit.js";
import type { CarryOut, FixRun, RevisionRun } from "./fix-run.js";
import { NoPullRequest, commitChanges } from "./fix-run.js";
import { promptPaths, readViews } from "./file-views.js";
import { prefixMessages } from "./prompt.js";
import { proveChange } from "./prove.js";
import type { Proof } from "./proving-test.js";
import { isTestPath } from "./proving-test-schema.js";
import type { Verification } from "./report.js";
import { FIX_LABEL, UNVERIFIED_LABEL, isVerified, issueRef } from "./report.js";
import type { FixPullInfo, RevisionPayload, RevisionRequest } from "./revision-request.js";
import {
  fixPullInfo,
  fixPullSchema,
  limitReachedText,
  revisionPayloadSchema,
  revisionsDone,
} from "./revision-request.js";
import { revisionMessage, visibleRequest } from "./revision-prompt.js";
import { revisionComment, revisionFailedComment, revisionRefusedText } from "./revision-report.js";
import { planMatcher } from "./safe-path.js";
import { startFix } from "./start-fix.js";
import { baselineTests, testerFor } from "./test-run.js";
import { verifyChange } from "./verify.js";
import type { Workspace } from "./workspace.js";

/** A `fix` task that revises an open fix pull request (its payload has `revision`). */
export const isRevision = (task: Task): boolean => task.payload["revision"] !== undefined;

/** The inline comments of a review, appended to its body (the specifics are often there). */
async function reviewText(ctx: ProcessorContext, pr: number, r: RevisionRequest): Promise<string> {
  if (r.via !== "review") return r.text;
  try {
    const { data } = await ctx.octokit.rest.pulls.listCommentsForReview({
      ...ctx.repo,
      pull_number: pr,
      review_id: r.id,
      per_page: 50,
    });
    const inline = data.map(
      (c) => `On ${c.path}${typeof c.line === "number" ? ` line ${c.line}` : ""}: ${c.body}`,
    );
    return [r.text, ...inline]
      .filter((t) => t.trim())
      .join("\n\n")
      .slice(0, 8_000);
  } catch (e) {
    if (httpStatus(e) === 404) return r.text;
    throw e;
  }
}

/**
 * One revision round of a fix pull request: still an open bg:fix PR; reviews' authors need
 * `commands.min_permission` (commands were checked when given); at most `fix.max_revisions`
 * rounds (counted from the PR's commits); then, in the workspace at the PR's head, the model's
 * edits for what was asked, the same checks as the fix, and one new commit pushed to the same
 * branch, with a comment on the PR. Never a second pull request.
 */
export async function reviseOne(
  ctx: ProcessorContext,
  task: Task,
  deps: CarryOut["deps"],
): Promise<TaskOutcome> {
  const parsed = revisionPayloadSchema.safeParse(task.payload);
  if (!parsed.success)
    return {
      status: "failed",
      permanent: true,
      error: "a revision task needs the payload {key, proposalId, target, revision}",
    };
  const p: RevisionPayload = parsed.data;
  const pr = p.revision.pr;
  const log = ctx.log.child({ fix: p.key, revise: pr, task: task.id });
  const comment = async (kind: string, id: string | number, body: string): Promise<void> => {
    if (ctx.env.dryRun) log.info({ pr }, `dry-run: would comment on #${pr}:\n${body}`);
    else await upsertComment(ctx.octokit, ctx.repo, pr, kind, id, body);
  };

  const { data } = await ctx.octokit.rest.pulls.get({ ...ctx.repo, pull_number: pr });
  const pull = fixPullSchema.safeParse(data);
  const info = pull.success ? fixPullInfo(pull.data, ctx.repoName) : null;
  if (!pull.success || pull.data.state !== "open" || !info || info.key !== p.key) {
    log.info("revision skipped: not an open bg:fix pull request (any more)");
    return { status: "skipped", reason: `#${pr} is not an open bg:fix pull request` };
  }

  // Reviews are taken in without a GitHub call; their authors' permission is checked here.
  const allowed: RevisionRequest[] = [];
  for (const r of p.revision.requests) {
    if (r.via === "command") {
      allowed.push(r);
      continue;
    }
    const d = await checkPermission(
      ctx.octokit,
      ctx.repo,
      r.by,
      ctx.config.commands.min_permission,
    );
    if (d.allowed) allowed.push(r);
    else {
      log.info({ by: r.by }, "revision refused: the reviewer may not ask for one");
      await comment("revision-refused", r.id, revisionRefusedText(r.by, d.reason));
    }
  }
  if (!allowed.length) return { status: "done", result: { pr, refused: true } };

  const max = ctx.config.fix.max_revisions;
  const done = await revisionsDone(ctx.octokit, ctx.repo, pr);
  if (done >= max) {
    log.info({ done, max }, "revision refused: the limit is reached");
    await comment("revision-limit", pr, limitReachedText(max));
    return { status: "done", result: { pr, limitReached: true, rounds: done } };
  }

  const approved = await loadApprovedPlan(ctx, {
    ...task,
    source: p.target,
    payload: {
      key: p.key,
      proposalId: p.proposalId,
      ...(p.approved ? { approved: p.approved } : {}),
    },
  });
  if (!approved.ok) {
    const reason = approved.invalid ? "the revision names no fix proposal" : approved.reason;
    log.warn({ reason }, "revision refused");
    await comment(
      "revision-refused",
      `task-${task.id}`,
      `🤖 bg-agent did not revise this pull request: ${reason}`,
    );
    return { status: "failed", permanent: true, error: reason };
  }
  const requests = await Promise.all(
    allowed.map(async (r) => ({ ...r, text: await reviewText(ctx, pr, r) })),
  );
  const revision: RevisionRun = {
    pr,
    round: done + 1,
    requests: requests.map((r) => ({ by: r.by, text: r.text })),
  };
  return startFix(ctx, task, deps, approved, log, (o, ws) =>
    reviseInWorkspace(o, ws, {
      info,
      revision,
      requests,
      max,
      labels: pull.data.labels,
      url: pull.data.html_url ?? null,
    }),
  );
}

interface RoundSpec {
  info: FixPullInfo;
  revision: RevisionRun;
  requests: RevisionRequest[];
  max: number;
  labels: readonly { name: string }[];
  url: string | null;
}

/** The PR's head in the workspace: fetched and checked out (detached); its SHA. */
async function checkoutHead(ws: Workspace, branch: string): Promise<string> {
  const ref = `refs/remotes/origin/${branch}`;
  await ws.git(["fetch", "--quiet", "--no-tags", "origin", `+refs/heads/${branch}:${ref}`]);
  await ws.git(["checkout", "--quiet", "--force", "--detach", ref]);
  return (await ws.git(["rev-parse", "HEAD"])).trim();
}

/** The round's run: the fix's state, at the PR's head, with the revision's prompt. */
async function prepareRevision(o: CarryOut, ws: Workspace, spec: RoundSpec): Promise<FixRun> {
  const { ctx, subject, plan } = o;
  const cfg = ctx.config.fix;
  const head = await checkoutHead(ws, spec.info.branch);
  const prFiles = (await ws.git(["diff", "--name-only", "-z", ws.baseSha, head]))
    .split("\0")
    .filter(Boolean)
    .sort();
  const tracked = (await ws.git(["ls-files", "-z"])).split("\0").filter(Boolean);
  const cap = Math.max(cfg.max_files, 20);
  const paths = [...new Set([...prFiles, ...promptPaths(plan.affectedFiles, tracked, cap)])]
    .slice(0, cap + prFiles.length)
    .sort();
  const context = await (o.deps.projectContext ?? defaultProjectContext)(ws.dir, ctx);
  const shown = spec.requests.map((r) => ({ ...r, ...visibleRequest(r.text) }));
  const planned = planMatcher(plan.affectedFiles);
  const inPr = new Set(prFiles);
  return {
    ...o,
    ws,
    // The tree before this round's edits is the PR's head: the baseline runs (and is named) there.
    baseBranch: spec.info.branch,
    cfg,
    tried: [],
    policy: {
      root: ws.dir,
      inPlan: (path) => planned(path) || inPr.has(path) || isTestPath(path),
      allowOutsidePlan: cfg.allow_outside_plan,
      maxFiles: cfg.max_files,
    },
    messages: [
      ...prefixMessages(context),
      {
        role: "user",
        content: revisionMessage({
          issue: issueRef(subject),
          title: subject.title,
          pr: spec.revision.pr,
          round: spec.revision.round,
          maxRounds: spec.max,
          plan: stripHidden(plan.plan).text,
          planFiles: plan.affectedFiles,
          prFiles,
          requests: shown.map((r) => ({ by: r.by, via: r.via, text: r.text })),
          ...(plan.provingTest ? { provingTest: plan.provingTest } : {}),
          files: await readViews(ws.dir, paths),
          maxFiles: cfg.max_files,
          allowOutsidePlan: cfg.allow_outside_plan,
        }),
      },
    ],
    paths,
    changed: new Map(),
    summary: "",
    ...(plan.provingTest ? { provingTest: plan.provingTest } : {}),
    commitBase: head,
    revision: {
      ...spec.revision,
      requests: shown.map((r) => ({ by: r.by, text: r.text })),
    },
  };
}

/**
 * The round in its workspace, with the fix's own steps: the edits, the baseline at the PR's head,
 * one commit on it, the test command (one repair round), the proving test; then push.
 */
async function reviseInWorkspace(
  o: CarryOut,
  ws: Workspace,
  spec: RoundSpec,
): Promise<TaskOutcome> {
  const run = await prepareRevision(o, ws, spec);
  try {
    const edits = await askForEdits(run);
    const tester = testerFor(run);
    const failedBefore = await baselineTests(run, tester, edits.changes);
    await applyEdits(run, edits);
    await commitChanges(run);
    const tested = await verifyChange(run, tester, failedBefore);
    const { verification, proof } = await proveChange(run, tester, tested);
    return await pushRevision(run, spec, verification, proof);
  } catch (e) {
    if (e instanceof NoPullRequest) {
      const { reason, outputTail } = e;
      run.log.warn({ reason }, "revision: nothing pushed");
      if (!run.ctx.env.dryRun)
        await upsertComment(
          run.ctx.octokit,
          run.ctx.repo,
          spec.revision.pr,
          "revision",
          `${spec.revision.pr}-${spec.revision.round}`,
          revisionFailedComment({
            round: spec.revision.round,
            reason,
            tried: run.tried,
            ...(outputTail ? { outputTail } : {}),
          }),
        );
      await run.record(
        "failed",
        `revision ${spec.revision.round} of #${spec.revision.pr}: ${reason}`,
        {
          error: reason,
        },
      );
      return { status: "failed", permanent: true, error: reason };
    }
    throw e;
  }
}

/**
 * Pushes the round's commit to the PR's branch (not forced: a push made meanwhile wins, and the
 * round is retried on top of it), sets `bg:unverified` as the checks say, proposes the merge of
 * the new head (a person approves it again), and comments on the PR.
 */
async function pushRevision(
  run: FixRun,
  spec: RoundSpec,
  verification: Verification,
  proof: Proof | undefined,
): Promise<TaskOutcome> {
  const { ctx, ws, log, subject } = run;
  const { pr, round } = spec.revision;
  const branch = spec.info.branch;
  const headSha = (await ws.git(["rev-parse", "HEAD"])).trim();
  const files = [...run.changed.values()]
    .filter((c) => c.before !== c.after)
    .map((c) => c.path)
    .sort();
  const verified = isVerified(verification, proof);
  if (ctx.env.dryRun) {
    log.info(
      { branch, headSha, files, verification: verification.status },
      `dry-run: would push revision ${round} to ${branch}`,
    );
    return { status: "done", result: { dryRun: true, pr, round, files } };
  }
  await ws.git(["push", "--quiet", "origin", `HEAD:refs/heads/${branch}`]);
  const has = new Set(spec.labels.map((l) => l.name));
  if (verified && has.has(UNVERIFIED_LABEL)) {
    try {
      await ctx.octokit.rest.issues.removeLabel({
        ...ctx.repo,
        issue_number: pr,
        name: UNVERIFIED_LABEL,
      });
    } catch (e) {
      if (httpStatus(e) !== 404) throw e;
    }
  } else if (!verified && !has.has(UNVERIFIED_LABEL)) {
    await ctx.octokit.rest.issues.addLabels({
      ...ctx.repo,
      issue_number: pr,
      labels: [FIX_LABEL, UNVERIFIED_LABEL],
    });
  }
  // The new head needs a person again: a merge approved for the old head does not carry over.
  await ctx.store.proposals.propose({
    repo: ctx.repoName,
    kind: "merge",
    target: `pr:${pr}`,
    contentHash: headSha,
    payload: {
      key: subject.key,
      fixProposalId: run.proposal.id,
      branch,
      headSha,
      verified,
      revision: round,
    },
  });
  await upsertComment(
    ctx.octokit,
    ctx.repo,
    pr,
    "revision",
    `${pr}-${round}`,
    revisionComment({
      round,
      maxRounds: spec.max,
      headSha,
      requests: spec.requests.map((r) => ({
        by: r.by,
        via: r.via,
        ...visibleRequest(r.text),
      })),
      summary: run.summary,
      files,
      verification,
      ...(proof ? { proof } : {}),
      verified,
      links: linkPolicyFor(ctx),
    }),
  );
  const summary = `revision ${round} of #${pr}: ${headSha.slice(0, 12)} (${files.length} file${files.length === 1 ? "" : "s"}, ${verification.status})`;
  await run.record("ok", summary, spec.url ? { url: spec.url } : {});
  log.info({ pr, branch, headSha, round }, `fix: ${summary}`);
  return {
    status: "done",
    result: {
      pr,
      round,
      branch,
      headSha,
      verification: verification.status,
      proof: proof?.status ?? "none",
    },
  };
}

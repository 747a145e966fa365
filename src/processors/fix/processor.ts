import { stripHidden } from "../../context/hidden-text.js";
import { linkPolicyFor } from "../../report/link-policy.js";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import type { ChatCompletionMessageParam } from "openai/resources/chat/completions";
import { z } from "zod";
import { llmFor } from "../../llm/for-context.js";
import type { Llm } from "../../llm/types.js";
import { BudgetExceededError } from "../../llm/types.js";
import { PausedError } from "../../core/paused.js";
import { upsertComment } from "../../report/comments.js";
import type { Proposal } from "../../store/proposals.js";
import type { Usage } from "../../store/spend.js";
import type { Task } from "../../store/tasks.js";
import { parseDuration } from "../../util/duration.js";
import type { Processor, ProcessorContext, TaskOutcome } from "../../core/worker-contract.js";
import type { ProjectContextFn } from "./default-context.js";
import { defaultProjectContext } from "./default-context.js";
import { addUsage, editRound } from "./edit-round.js";
import type { EditPolicy, FileChange } from "./edits.js";
import { writeChanges } from "./edits.js";
import type { FileView } from "./prompt.js";
import { prefixMessages, repairMessage, taskMessage } from "./prompt.js";
import { upsertPullRequest } from "./pull-request.js";
import type { BaselineFailure, FixSubject, TestFailure, Verification } from "./report.js";
import {
  FIX_LABEL,
  UNVERIFIED_LABEL,
  failureComment,
  issueRef,
  prBody,
  prTitle,
  refusedComment,
  successComment,
} from "./report.js";
import type { CommandResult } from "./run-command.js";
import { runCommand, tail, testEnvironment } from "./run-command.js";
import { checkPath, normalizeRepoPath, planMatcher } from "./safe-path.js";
import type { Target } from "./subject.js";
import { loadSubject, parseTarget } from "./subject.js";
import type { RemoteSpec, Workspace } from "./workspace.js";
import { openWorkspace, remoteFromOctokit } from "./workspace.js";

export interface FixDeps {
  /** The project context builder (the analysis's shared one); default: README + file tree. */
  projectContext?: ProjectContextFn;
  /** Where to clone from when there is no checkout of the repository (tests: a local bare repo). */
  remote?: (ctx: ProcessorContext) => Promise<RemoteSpec>;
  /** Parent of the temp dirs (default: the OS temp dir). */
  tmpRoot?: string;
}

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
    })
    .optional(),
});
const planSchema = z.object({
  plan: z.string().min(1),
  affectedFiles: z.array(z.string()).default([]),
});

const MAX_FILE_CHARS = 100_000;
const ZERO: Usage = { promptTokens: 0, cachedTokens: 0, completionTokens: 0, costUsd: 0 };

/** The `fix` processor: an approved fix plan becomes a tested pull request. One fix per batch. */
export function createFixProcessor(deps: FixDeps = {}): Processor {
  return {
    type: "fix",
    usesLlm: true,
    batchSize: () => 1,
    async process(ctx, tasks) {
      const out = new Map<number, TaskOutcome>();
      for (const t of tasks) out.set(t.id, await fixOne(ctx, t, deps));
      return out;
    },
  };
}

/** Posts on the issue (GitHub: bg-agent's `fix` comment, updated in place; Linear: a comment). */
async function report(
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

async function fixOne(ctx: ProcessorContext, task: Task, deps: FixDeps): Promise<TaskOutcome> {
  const payload = payloadSchema.safeParse(task.payload);
  if (!payload.success) {
    return {
      status: "failed",
      permanent: true,
      error: "a fix task needs the payload {key, proposalId}",
    };
  }
  const { key, proposalId, approved } = payload.data;
  const log = ctx.log.child({ fix: key, task: task.id });
  // This store's proposal of that id, if it is about this task's issue (in connected mode the id
  // is the app's, and this store's own proposals are numbered on their own).
  const found = ctx.store.proposals.get(proposalId);
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
          payload: { key, plan: approved.plan, affectedFiles: approved.affectedFiles },
          decidedBy: approved.by,
          decidedAt: approved.at,
          reason: null,
          createdAt: approved.at,
        }
      : stored;
  const target = parseTarget(proposal?.target ?? task.source);
  const refuse = async (reason: string): Promise<TaskOutcome> => {
    log.warn({ reason }, "fix refused");
    await report(ctx, key, target, refusedComment(reason));
    return { status: "failed", permanent: true, error: reason };
  };
  if (
    !proposal ||
    proposal.repo.toLowerCase() !== ctx.repoName.toLowerCase() ||
    proposal.kind !== "fix"
  ) {
    return refuse(`fix proposal ${proposalId} does not exist for this repository.`);
  }
  if (proposal.status !== "approved") {
    return refuse(`the fix proposal (${proposalId}) is ${proposal.status}, not approved.`);
  }
  if (!target) return refuse(`the proposal's target ${proposal.target} is not an issue.`);
  const planned = planSchema.safeParse(proposal.payload);
  const analysis = ctx.store.analyses.get(key);
  const plan = planned.success
    ? planned.data
    : analysis
      ? { plan: analysis.plan, affectedFiles: analysis.affectedFiles }
      : null;
  if (!plan || !plan.plan.trim()) return refuse("the approved proposal carries no plan.");

  let llm: Llm;
  try {
    llm = llmFor(ctx);
  } catch (e) {
    return { status: "failed", error: `no LLM: ${(e as Error).message}` };
  }

  const subjectResult = await loadSubject(ctx, key, target);
  if (!subjectResult.ok) return { status: "skipped", reason: subjectResult.reason };
  const subject = subjectResult.subject;

  let usage = ZERO;
  const started = Date.now();
  const record = (
    status: "ok" | "failed" | "waiting",
    summary: string,
    extra: { url?: string; error?: string } = {},
  ) => {
    if (ctx.env.dryRun) return;
    ctx.store.runs.record({
      repo: ctx.repoName,
      kind: "fix",
      ref: subject.target,
      taskId: task.id,
      status,
      summary,
      usage,
      startedAt: started,
      // The PR when there is one; otherwise a Linear issue's own URL (GitHub issues' links are
      // derived from `issue:N`), so the dashboard links every fix run to its item.
      url: extra.url ?? subject.linear?.url ?? null,
      error: extra.error ?? null,
    });
  };
  try {
    return await carryOut({
      ctx,
      deps,
      llm,
      proposal,
      plan,
      subject,
      target,
      onUsage: (u) => (usage = addUsage(usage, u)),
      record,
      log,
    });
  } catch (e) {
    // People became active (or a pause arrived) between two rounds: the fix starts over later.
    if (e instanceof PausedError) {
      log.info({ why: e.state.reason }, "fix waits: the repository must wait now");
      return { status: "retry", at: e.retryAt, reason: e.message };
    }
    if (e instanceof BudgetExceededError) {
      log.warn({ err: e }, "fix waits for the budget");
      // Calls already made are on the record; a fix that could not start adds no row.
      if (usage.promptTokens > 0) record("waiting", `budget: ${e.message}`);
      return { status: "retry", at: e.retryAt ?? Date.now() + 60 * 60_000, reason: e.message };
    }
    record("failed", "error", { error: (e as Error).message });
    throw e;
  }
}

interface CarryOut {
  ctx: ProcessorContext;
  deps: FixDeps;
  llm: Llm;
  proposal: Proposal;
  plan: { plan: string; affectedFiles: string[] };
  subject: FixSubject;
  target: Target;
  onUsage: (u: Usage) => void;
  record: (
    status: "ok" | "failed",
    summary: string,
    extra?: { url?: string; error?: string },
  ) => void;
  log: ProcessorContext["log"];
}

async function carryOut(o: CarryOut): Promise<TaskOutcome> {
  const { ctx, log } = o;
  const { data: repoInfo } = await ctx.octokit.rest.repos.get({ ...ctx.repo });
  const ws = await openWorkspace({
    ref: ctx.repo,
    baseBranch: repoInfo.default_branch,
    ...(ctx.env.workspace ? { checkout: ctx.env.workspace } : {}),
    remote: () => (o.deps.remote ? o.deps.remote(ctx) : remoteFromOctokit(ctx.octokit, ctx.repo)),
    log,
    ...(o.deps.tmpRoot ? { tmpRoot: o.deps.tmpRoot } : {}),
  });
  try {
    return await inWorkspace(o, ws, repoInfo.default_branch);
  } finally {
    await ws.cleanup();
    log.debug({ mode: ws.mode }, "fix: workspace removed");
  }
}

async function readViews(root: string, paths: readonly string[]): Promise<FileView[]> {
  const views: FileView[] = [];
  for (const p of paths) {
    const checked = await checkPath(root, p);
    if (!checked.ok) {
      views.push({ path: p, content: null, note: `not shown: ${checked.reason}` });
      continue;
    }
    const full = join(root, checked.path);
    const info = await stat(full).catch(() => null);
    if (!info) views.push({ path: checked.path, content: null });
    else if (!info.isFile()) views.push({ path: checked.path, content: null, note: "not a file" });
    else if (info.size > MAX_FILE_CHARS * 4)
      views.push({
        path: checked.path,
        content: null,
        note: `too large to show (${info.size} bytes)`,
      });
    else {
      const text = await readFile(full, "utf8");
      if (text.includes("\u0000"))
        views.push({ path: checked.path, content: null, note: "binary file" });
      else if (text.length > MAX_FILE_CHARS)
        views.push({
          path: checked.path,
          content: text.slice(0, MAX_FILE_CHARS),
          note: "truncated",
        });
      else views.push({ path: checked.path, content: text });
    }
  }
  return views;
}

/** The files to show the model: tracked files the plan names (files, folders, globs), and named files that do not exist yet. */
function promptPaths(
  entries: readonly string[],
  tracked: readonly string[],
  cap: number,
): string[] {
  const matches = planMatcher(entries);
  const out = new Set<string>(tracked.filter(matches));
  for (const e of entries) {
    if (/[*?[\]{}]/.test(e)) continue;
    const n = normalizeRepoPath(e);
    if (n.ok && !tracked.some((t) => t.startsWith(`${n.path}/`))) out.add(n.path);
  }
  return [...out].sort().slice(0, cap);
}

const outcomeText = (r: CommandResult, timeoutMs: number): string =>
  r.timedOut
    ? `timed out after ${Math.round(timeoutMs / 1000)}s and was killed`
    : r.code !== null
      ? `failed with exit code ${r.code}`
      : `was killed by ${r.signal ?? "a signal"}`;

const passed = (r: CommandResult): boolean => r.code === 0 && !r.timedOut;

const failureOf = (r: CommandResult, timeoutMs: number): TestFailure => ({
  outcome: outcomeText(r, timeoutMs),
  timedOut: r.timedOut,
  outputTail: tail(r.output, 30, 2_000),
});

async function inWorkspace(o: CarryOut, ws: Workspace, baseBranch: string): Promise<TaskOutcome> {
  const { ctx, subject, log } = o;
  const cfg = ctx.config.fix;
  const tried: string[] = [];
  const fail = async (reason: string, outputTail?: string): Promise<TaskOutcome> => {
    log.warn({ reason }, "fix: no pull request");
    await report(
      ctx,
      subject.key,
      o.target,
      failureComment({ reason, tried, ...(outputTail ? { outputTail } : {}) }),
    );
    o.record("failed", reason, { error: reason });
    return { status: "failed", permanent: true, error: reason };
  };

  const tracked = (await ws.git(["ls-files", "-z"])).split("\0").filter(Boolean);
  const policy: EditPolicy = {
    root: ws.dir,
    inPlan: planMatcher(o.plan.affectedFiles),
    allowOutsidePlan: cfg.allow_outside_plan,
    maxFiles: cfg.max_files,
  };
  const paths = promptPaths(o.plan.affectedFiles, tracked, Math.max(cfg.max_files, 20));
  const context = await (o.deps.projectContext ?? defaultProjectContext)(ws.dir, ctx);
  const messages: ChatCompletionMessageParam[] = [
    ...prefixMessages(context),
    {
      role: "user",
      content: taskMessage({
        issue: issueRef(subject),
        title: subject.title,
        plan: stripHidden(o.plan.plan).text,
        planFiles: o.plan.affectedFiles,
        files: await readViews(ws.dir, paths),
        maxFiles: cfg.max_files,
        allowOutsidePlan: cfg.allow_outside_plan,
      }),
    },
  ];

  const round = await editRound({
    llm: o.llm,
    messages,
    policy,
    onUsage: o.onUsage,
    tried,
    label: "edit",
  });
  if (!round.ok) {
    return fail(
      round.kind === "refused"
        ? `the edit was refused: ${round.error}`
        : `the edits could not be applied: ${round.error}`,
    );
  }

  const command = cfg.test_command;
  const timeoutMs = parseDuration(cfg.timeout) ?? 600_000;
  const test = async (cmd: string) => {
    const r = await runCommand(cmd, {
      cwd: ws.dir,
      timeoutMs,
      env: testEnvironment(),
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
    // The pass gave up on this fix (its outer deadline): stop here, report and push nothing.
    if (ctx.signal?.aborted) throw new Error("the fix was given up at its outer deadline");
    return r;
  };

  // The baseline: the test command on the unchanged tree (the edits are planned, not written
  // yet), so failures that were there before the change are not blamed on it. It runs after the
  // model answered, so an unusable answer or a spent budget costs no test run.
  let failedBefore: BaselineFailure | undefined;
  if (command && cfg.test_baseline) {
    const base = await test(command);
    // Drop what the run did to tracked files, so the edits apply to the tree the model saw.
    await ws.git(["reset", "--quiet", "--hard", "HEAD"]);
    const where = `tests on the unchanged ${baseBranch} (before the edits): "${command}"`;
    if (passed(base)) tried.push(`${where} passed`);
    else {
      failedBefore = { base: baseBranch, ...failureOf(base, timeoutMs) };
      tried.push(`${where} ${failedBefore.outcome}`);
      log.info({ outcome: failedBefore.outcome }, "fix: the tests fail without the change too");
    }
    // The run may have created files: check again that no edit now writes through a link.
    for (const c of round.changes) {
      const checked = await checkPath(ws.dir, c.path);
      if (!checked.ok) return fail(`the edit was refused: ${checked.reason}`);
    }
  }

  const changed = new Map<string, FileChange>(round.changes.map((c) => [c.path, c]));
  let summary = round.summary;
  const unwritten = await writeChanges(ws.dir, round.changes);
  if (unwritten) return fail(`the edit was refused: ${unwritten}`);
  const message = `Fix ${issueRef(subject)}: ${subject.title.replace(/\s+/g, " ").slice(0, 120)}`;
  const commit = async () => {
    await ws.git(["add", "--", ...changed.keys()]);
    await ws.git(["reset", "--soft", ws.baseSha]);
    await ws.git([
      "commit",
      "--quiet",
      "--no-verify",
      "-m",
      message,
      "-m",
      `${summary}\n\nbg-agent fix:${subject.key}`.trim(),
    ]);
  };
  await commit();

  let verification: Verification = { status: "unverified" };
  if (command) {
    let result = await test(command);
    let repaired = false;
    if (!passed(result) && failedBefore) {
      // Failing before and after: the failure may not be the change's, so no repair round is
      // spent on it. The pull request is opened as unverified and says so.
      const after = failureOf(result, timeoutMs);
      tried.push(`tests with the change: "${command}" ${after.outcome}`);
      log.info({ outcome: after.outcome }, "fix: the tests failed before and after the change");
      verification = { status: "failing-before", command, before: failedBefore, after };
    } else if (!passed(result)) {
      const first = outcomeText(result, timeoutMs);
      tried.push(`tests: "${command}" ${first}`);
      log.info({ outcome: first }, "fix: tests failed; one repair round");
      // Drop what the test run did to tracked files; keep the committed edit.
      await ws.git(["reset", "--quiet", "--hard", "HEAD"]);
      const current = await readViews(ws.dir, [...new Set([...changed.keys(), ...paths])].sort());
      messages.push({
        role: "user",
        content: repairMessage({
          command,
          outcome: first,
          outputTail: tail(result.output, 80, 8_000),
          files: current,
        }),
      });
      const repair = await editRound({
        llm: o.llm,
        messages,
        policy,
        onUsage: o.onUsage,
        tried,
        label: "repair",
      });
      if (!repair.ok) {
        return fail(
          `the tests failed (${first}) and the repair ${repair.kind === "refused" ? `was refused: ${repair.error}` : `could not be applied: ${repair.error}`}`,
          tail(result.output),
        );
      }
      if (
        changed.size + repair.changes.filter((c) => !changed.has(c.path)).length >
        cfg.max_files
      ) {
        return fail(
          `the repair would change more than ${cfg.max_files} files (fix.max_files)`,
          tail(result.output),
        );
      }
      for (const c of repair.changes) {
        const prior = changed.get(c.path);
        changed.set(c.path, { ...c, before: prior ? prior.before : c.before });
      }
      if (repair.summary) summary = repair.summary;
      const unwrittenRepair = await writeChanges(ws.dir, repair.changes);
      if (unwrittenRepair)
        return fail(`the repair was refused: ${unwrittenRepair}`, tail(result.output));
      await commit();
      result = await test(command);
      repaired = true;
      if (!passed(result)) {
        const second = outcomeText(result, timeoutMs);
        tried.push(`tests after the repair: "${command}" ${second}`);
        return fail(
          `the tests still fail after one repair round: "${command}" ${second}`,
          tail(result.output),
        );
      }
    }
    if (passed(result)) {
      tried.push(`tests: "${command}" passed`);
      verification = {
        status: "passed",
        command,
        durationMs: result.durationMs,
        repaired,
        ...(failedBefore ? { failedBefore } : {}),
      };
    }
  }

  const headSha = (await ws.git(["rev-parse", "HEAD"])).trim();
  const files = [...changed.values()]
    .filter((c) => c.before !== c.after)
    .map((c) => ({ path: c.path, added: c.before === null }))
    .sort((a, b) => a.path.localeCompare(b.path));
  const body = prBody({
    subject,
    proposalId: o.proposal.id,
    approvedBy: o.proposal.decidedBy,
    plan: o.plan.plan,
    summary,
    files,
    verification,
    links: linkPolicyFor(ctx),
  });
  const labels = verification.status === "passed" ? [FIX_LABEL] : [FIX_LABEL, UNVERIFIED_LABEL];
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
      },
    };
  }

  await ws.push(subject.branch);
  const pr = await upsertPullRequest(ctx.octokit, ctx.repo, {
    branch: subject.branch,
    base: baseBranch,
    title: prTitle(subject),
    body,
    labels,
    removeLabels: verification.status === "passed" ? [UNVERIFIED_LABEL] : [],
  });
  // The PR waits for a person: automerge needs a human approving review or this proposal approved.
  ctx.store.proposals.propose({
    repo: ctx.repoName,
    kind: "merge",
    target: `pr:${pr.number}`,
    contentHash: headSha,
    payload: {
      key: subject.key,
      fixProposalId: o.proposal.id,
      branch: subject.branch,
      headSha,
      verified: verification.status === "passed",
    },
  });
  await report(
    ctx,
    subject.key,
    o.target,
    successComment({ pr: pr.number, url: pr.url, verification, updated: pr.action === "updated" }),
  );
  const done = `${pr.action} #${pr.number} (${files.length} file${files.length === 1 ? "" : "s"}, ${verification.status})`;
  o.record("ok", done, { url: pr.url });
  log.info({ pr: pr.number, branch: subject.branch, headSha }, `fix: ${done}`);
  return {
    status: "done",
    result: {
      pr: pr.number,
      url: pr.url,
      branch: subject.branch,
      headSha,
      verification: verification.status,
    },
  };
}

import type { ChatCompletionMessageParam } from "openai/resources/chat/completions";
import type { Llm } from "../../llm/types.js";
import type { Proposal } from "../../store/proposals.js";
import type { Usage } from "../../core/domain.js";
import type { ProcessorContext, TaskOutcome } from "../../core/worker-contract.js";
import type { FixPlan } from "./approved-plan.js";
import type { ProvingTest } from "./proving-test-schema.js";
import type { ProjectContextFn } from "./default-context.js";
import type { RoundResult } from "./edit-round.js";
import { editRound } from "./edit-round.js";
import type { EditPolicy, FileChange } from "./edits.js";
import { commentOnIssue } from "./issue-comment.js";
import type { FixSubject } from "./report.js";
import { failureComment, issueRef } from "./report.js";
import type { Target } from "./subject.js";
import type { RemoteSpec, Workspace } from "./workspace.js";

export interface FixDeps {
  /** The project context builder (the analysis's shared one); default: README + file tree. */
  projectContext?: ProjectContextFn;
  /** Where to clone from when there is no checkout of the repository (tests: a local bare repo). */
  remote?: (ctx: ProcessorContext) => Promise<RemoteSpec>;
  /** Parent of the temp dirs (default: the OS temp dir). */
  tmpRoot?: string;
}

/** A fix about to be carried out: the approved plan, its issue, the model, and where runs go. */
export interface CarryOut {
  ctx: ProcessorContext;
  deps: FixDeps;
  llm: Llm;
  proposal: Proposal;
  plan: FixPlan;
  subject: FixSubject;
  target: Target;
  onUsage: (u: Usage) => void;
  record: (
    status: "ok" | "failed",
    summary: string,
    extra?: { url?: string; error?: string },
  ) => Promise<void>;
  log: ProcessorContext["log"];
}

/** A fix in its workspace: what every step reads, and what the steps build up. */
export interface FixRun extends CarryOut {
  ws: Workspace;
  baseBranch: string;
  cfg: ProcessorContext["config"]["fix"];
  /** What was tried, in order (the failure comment lists it); edit rounds append to it. */
  tried: string[];
  policy: EditPolicy;
  /** The conversation with the model; the repair round continues it. */
  messages: ChatCompletionMessageParam[];
  /** The files shown to the model. */
  paths: string[];
  /** Every file the fix changes, with its content before the first edit. */
  changed: Map<string, FileChange>;
  /** The model's summary of the change (the latest round's). */
  summary: string;
  /** The test that shows the problem (the plan's, or the latest round's answer's). */
  provingTest?: ProvingTest;
  /** The commit the fix's own commit goes on: the base branch, or a revision's PR head. */
  commitBase: string;
  /** Set for a revision round of an open fix pull request. */
  revision?: RevisionRun;
}

/** A revision of a fix pull request: which one, which round, and what was asked. */
export interface RevisionRun {
  pr: number;
  round: number;
  /** The people who asked (logins) and what (untrusted text, hidden text removed). */
  requests: { by: string; text: string }[];
}

/** A step ends the fix without a pull request: `reason` is posted on the issue with what was tried. */
export class NoPullRequest extends Error {
  constructor(
    readonly reason: string,
    readonly outputTail?: string,
  ) {
    super(reason);
    this.name = "NoPullRequest";
  }
}

/** Reports a fix that ends without a pull request: comment, run row, a permanent failure. */
export async function noPullRequest(run: FixRun, stop: NoPullRequest): Promise<TaskOutcome> {
  const { reason, outputTail } = stop;
  run.log.warn({ reason }, "fix: no pull request");
  await commentOnIssue(
    run.ctx,
    run.subject.key,
    run.target,
    failureComment({ reason, tried: run.tried, ...(outputTail ? { outputTail } : {}) }),
  );
  await run.record("failed", reason, { error: reason });
  return { status: "failed", permanent: true, error: reason };
}

/**
 * Commits the changed files as one commit on `commitBase` (a repair replaces that commit): the
 * fix's one commit on the base branch, or a revision's one new commit on the PR's head.
 */
export async function commitChanges(run: FixRun): Promise<void> {
  const { ws, subject, revision } = run;
  const title = subject.title.replace(/\s+/g, " ").slice(0, 120);
  const message = revision
    ? `Revise the fix of ${issueRef(subject)} (round ${revision.round}): ${title}`
    : `Fix ${issueRef(subject)}: ${title}`;
  const trailer = revision ? `\nbg-agent revision: ${revision.round}` : "";
  await ws.git(["add", "--", ...run.changed.keys()]);
  await ws.git(["reset", "--soft", run.commitBase]);
  await ws.git([
    "commit",
    "--quiet",
    "--no-verify",
    "-m",
    message,
    "-m",
    `${run.summary}\n\nbg-agent fix:${subject.key}${trailer}`.trim(),
  ]);
}

/** One round of edits in this fix's conversation, under its policy (see edit-round.ts). */
export const roundOfEdits = (run: FixRun, label: "edit" | "repair"): Promise<RoundResult> =>
  editRound({
    llm: run.llm,
    messages: run.messages,
    policy: run.policy,
    onUsage: run.onUsage,
    tried: run.tried,
    label,
  });

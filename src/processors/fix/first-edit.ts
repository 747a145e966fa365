import type { ChatCompletionMessageParam } from "openai/resources/chat/completions";
import { stripHidden } from "../../context/hidden-text.js";
import type { RoundResult } from "./edit-round.js";
import type { CarryOut, FixRun } from "./fix-run.js";
import { NoPullRequest, roundOfEdits } from "./fix-run.js";
import type { FileChange } from "./edits.js";
import type { ProvingTest } from "./proving-test-schema.js";
import { writeChanges } from "./edits.js";
import { defaultProjectContext } from "./default-context.js";
import { promptPaths, readViews } from "./file-views.js";
import { prefixMessages, taskMessage } from "./prompt.js";
import { issueRef } from "./report.js";
import { isTestPath } from "./proving-test-schema.js";
import { planMatcher } from "./safe-path.js";
import type { Workspace } from "./workspace.js";

/** Prepares the fix in its workspace: the edit policy, the files to show, the first prompt. */
export async function prepareRun(o: CarryOut, ws: Workspace, baseBranch: string): Promise<FixRun> {
  const { ctx, subject } = o;
  const cfg = ctx.config.fix;
  const tracked = (await ws.git(["ls-files", "-z"])).split("\0").filter(Boolean);
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
        ...(o.plan.provingTest ? { provingTest: o.plan.provingTest } : {}),
        files: await readViews(ws.dir, paths),
        maxFiles: cfg.max_files,
        allowOutsidePlan: cfg.allow_outside_plan,
      }),
    },
  ];
  const planned = planMatcher(o.plan.affectedFiles);
  return {
    ...o,
    ws,
    baseBranch,
    cfg,
    tried: [],
    policy: {
      root: ws.dir,
      // A test file may be added or changed to prove the fix, even when the plan does not name it.
      inPlan: (p) => planned(p) || isTestPath(p),
      allowOutsidePlan: cfg.allow_outside_plan,
      maxFiles: cfg.max_files,
    },
    messages,
    paths,
    changed: new Map(),
    summary: "",
    ...(o.plan.provingTest ? { provingTest: o.plan.provingTest } : {}),
    commitBase: ws.baseSha,
  };
}

/** Asks the model for the edits (planned, not written yet). */
export async function askForEdits(run: FixRun): Promise<Extract<RoundResult, { ok: true }>> {
  const round = await roundOfEdits(run, "edit");
  if (!round.ok) {
    throw new NoPullRequest(
      round.kind === "refused"
        ? `the edit was refused: ${round.error}`
        : `the edits could not be applied: ${round.error}`,
    );
  }
  return round;
}

/** Writes the planned edits and commits them. */
export async function applyEdits(
  run: FixRun,
  edits: { changes: FileChange[]; summary: string; test?: ProvingTest },
): Promise<void> {
  for (const c of edits.changes) run.changed.set(c.path, c);
  run.summary = edits.summary;
  if (edits.test) run.provingTest = edits.test;
  const unwritten = await writeChanges(run.ws.dir, edits.changes);
  if (unwritten) throw new NoPullRequest(`the edit was refused: ${unwritten}`);
}

import { parseDuration } from "../../util/duration.js";
import type { FixRun } from "./fix-run.js";
import { NoPullRequest } from "./fix-run.js";
import type { FileChange } from "./edits.js";
import type { BaselineFailure, TestFailure } from "./report.js";
import type { CommandResult } from "./run-command.js";
import { runCommand, tail, testEnvironment } from "./run-command.js";
import { checkPath } from "./safe-path.js";

export const outcomeText = (r: CommandResult, timeoutMs: number): string =>
  r.timedOut
    ? `timed out after ${Math.round(timeoutMs / 1000)}s and was killed`
    : r.code !== null
      ? `failed with exit code ${r.code}`
      : `was killed by ${r.signal ?? "a signal"}`;

export const passed = (r: CommandResult): boolean => r.code === 0 && !r.timedOut;

export const failureOf = (r: CommandResult, timeoutMs: number): TestFailure => ({
  outcome: outcomeText(r, timeoutMs),
  timedOut: r.timedOut,
  outputTail: tail(r.output, 30, 2_000),
});

/** The repository's test command (`fix.test_command`) in the workspace, sandboxed. */
export interface Tester {
  command: string;
  timeoutMs: number;
  run: () => Promise<CommandResult>;
}

/** The tester for this fix, or null when the repository has no test command. */
export function testerFor(run: FixRun): Tester | null {
  const { ctx, cfg, ws } = run;
  const command = cfg.test_command;
  if (!command) return null;
  const timeoutMs = parseDuration(cfg.timeout) ?? 600_000;
  return {
    command,
    timeoutMs,
    async run() {
      const r = await runCommand(command, {
        cwd: ws.dir,
        timeoutMs,
        env: testEnvironment(),
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      });
      // The pass gave up on this fix (its outer deadline): stop here, report and push nothing.
      if (ctx.signal?.aborted) throw new Error("the fix was given up at its outer deadline");
      return r;
    },
  };
}

/**
 * The baseline: the test command on the unchanged tree (the edits are planned, not written
 * yet), so failures that were there before the change are not blamed on it. It runs after the
 * model answered, so an unusable answer or a spent budget costs no test run. Returns the failure,
 * if the tests fail without the change.
 */
export async function baselineTests(
  run: FixRun,
  tester: Tester | null,
  planned: readonly FileChange[],
): Promise<BaselineFailure | undefined> {
  if (!tester || !run.cfg.test_baseline) return undefined;
  const { ws, baseBranch, tried, log } = run;
  const base = await tester.run();
  // Drop what the run did to tracked files, so the edits apply to the tree the model saw.
  await ws.git(["reset", "--quiet", "--hard", "HEAD"]);
  const where = `tests on the unchanged ${baseBranch} (before the edits): "${tester.command}"`;
  let failedBefore: BaselineFailure | undefined;
  if (passed(base)) tried.push(`${where} passed`);
  else {
    failedBefore = { base: baseBranch, ...failureOf(base, tester.timeoutMs) };
    tried.push(`${where} ${failedBefore.outcome}`);
    log.info({ outcome: failedBefore.outcome }, "fix: the tests fail without the change too");
  }
  // The run may have created files: check again that no edit now writes through a link.
  for (const c of planned) {
    const checked = await checkPath(ws.dir, c.path);
    if (!checked.ok) throw new NoPullRequest(`the edit was refused: ${checked.reason}`);
  }
  return failedBefore;
}

import type { FixRun } from "./fix-run.js";
import { NoPullRequest, commitChanges, roundOfEdits } from "./fix-run.js";
import { writeChanges } from "./edits.js";
import { readViews } from "./file-views.js";
import { repairMessage } from "./prompt.js";
import type { BaselineFailure, Verification } from "./report.js";
import type { CommandResult } from "./run-command.js";
import { tail } from "./run-command.js";
import type { Tester } from "./test-run.js";
import { failureOf, outcomeText, passed } from "./test-run.js";

/**
 * Runs the tests on the committed change. Failing before and after: unverified, no repair.
 * Failing only after: one repair round, then the tests again. A fix whose tests still fail, or
 * whose repair cannot be applied, ends without a pull request.
 */
export async function verifyChange(
  run: FixRun,
  tester: Tester | null,
  failedBefore: BaselineFailure | undefined,
): Promise<Verification> {
  if (!tester) return { status: "unverified" };
  const { command, timeoutMs } = tester;
  let result = await tester.run();
  let repaired = false;
  if (!passed(result) && failedBefore) {
    // Failing before and after: the failure may not be the change's, so no repair round is
    // spent on it. The pull request is opened as unverified and says so.
    const after = failureOf(result, timeoutMs);
    run.tried.push(`tests with the change: "${command}" ${after.outcome}`);
    run.log.info({ outcome: after.outcome }, "fix: the tests failed before and after the change");
    return { status: "failing-before", command, before: failedBefore, after };
  }
  if (!passed(result)) {
    await repairRound(run, tester, result);
    result = await tester.run();
    repaired = true;
    if (!passed(result)) {
      const second = outcomeText(result, timeoutMs);
      run.tried.push(`tests after the repair: "${command}" ${second}`);
      throw new NoPullRequest(
        `the tests still fail after one repair round: "${command}" ${second}`,
        tail(result.output),
      );
    }
  }
  run.tried.push(`tests: "${command}" passed`);
  return {
    status: "passed",
    command,
    durationMs: result.durationMs,
    repaired,
    ...(failedBefore ? { failedBefore } : {}),
  };
}

/**
 * The one repair round: the failure and the current files go back to the model; its edits are
 * committed. `tester` is what failed: the test command, or the proving test.
 */
export async function repairRound(
  run: FixRun,
  tester: Pick<Tester, "command" | "timeoutMs">,
  result: CommandResult,
): Promise<void> {
  const { ws, changed, cfg } = run;
  const { command } = tester;
  const first = outcomeText(result, tester.timeoutMs);
  run.tried.push(`tests: "${command}" ${first}`);
  run.log.info({ outcome: first }, "fix: tests failed; one repair round");
  // Drop what the test run did to tracked files; keep the committed edit.
  await ws.git(["reset", "--quiet", "--hard", "HEAD"]);
  const current = await readViews(ws.dir, [...new Set([...changed.keys(), ...run.paths])].sort());
  run.messages.push({
    role: "user",
    content: repairMessage({
      command,
      outcome: first,
      outputTail: tail(result.output, 80, 8_000),
      files: current,
    }),
  });
  const repair = await roundOfEdits(run, "repair");
  if (!repair.ok) {
    throw new NoPullRequest(
      `the tests failed (${first}) and the repair ${repair.kind === "refused" ? `was refused: ${repair.error}` : `could not be applied: ${repair.error}`}`,
      tail(result.output),
    );
  }
  if (changed.size + repair.changes.filter((c) => !changed.has(c.path)).length > cfg.max_files) {
    throw new NoPullRequest(
      `the repair would change more than ${cfg.max_files} files (fix.max_files)`,
      tail(result.output),
    );
  }
  for (const c of repair.changes) {
    const prior = changed.get(c.path);
    changed.set(c.path, { ...c, before: prior ? prior.before : c.before });
  }
  if (repair.summary) run.summary = repair.summary;
  if (repair.test) run.provingTest = repair.test;
  const unwritten = await writeChanges(ws.dir, repair.changes);
  if (unwritten)
    throw new NoPullRequest(`the repair was refused: ${unwritten}`, tail(result.output));
  await commitChanges(run);
}

import type { FixRun } from "./fix-run.js";
import { NoPullRequest } from "./fix-run.js";
import type { Proof } from "./proving-test.js";
import { proverFor, runProof } from "./proving-test.js";
import type { Verification } from "./report.js";
import { tail } from "./run-command.js";
import type { Tester } from "./test-run.js";
import { outcomeText, passed } from "./test-run.js";
import { repairRound } from "./verify.js";

/**
 * The proving test, after the test command: without the change it must fail, with it pass. A test
 * that shows the problem but still fails with the change gets the fix's one repair round when the
 * test command did not spend it; then the test command and the proof run again. Anything else
 * that is not a proof (no test, a test that passes without the change) opens the PR unverified.
 */
export async function proveChange(
  run: FixRun,
  tester: Tester | null,
  verification: Verification,
): Promise<{ verification: Verification; proof: Proof }> {
  if (!tester)
    return {
      verification,
      proof: { status: "none", why: "no test command is configured (fix.test_command)" },
    };
  let prover = await proverFor(run);
  if ("none" in prover) {
    run.tried.push(`proving test: none (${prover.none})`);
    return { verification, proof: { status: "none", why: prover.none } };
  }
  const proof = await runProof(run, prover);
  const repairable =
    proof.status === "not-proven" &&
    proof.before?.passed === false &&
    proof.after?.passed === false &&
    verification.status === "passed" &&
    !verification.repaired;
  if (!repairable || !proof.after) return { verification, proof };

  await repairRound(run, prover, proof.after.result);
  const suite = await tester.run();
  if (!passed(suite)) {
    const outcome = outcomeText(suite, tester.timeoutMs);
    run.tried.push(`tests after the repair: "${tester.command}" ${outcome}`);
    throw new NoPullRequest(
      `the proving test still failed with the change, and after one repair round the tests fail: "${tester.command}" ${outcome}`,
      tail(suite.output),
    );
  }
  run.tried.push(`tests after the repair: "${tester.command}" passed`);
  const repaired: Verification = { ...verification, repaired: true, durationMs: suite.durationMs };
  prover = await proverFor(run);
  if ("none" in prover)
    return { verification: repaired, proof: { status: "none", why: prover.none } };
  return { verification: repaired, proof: await runProof(run, prover) };
}

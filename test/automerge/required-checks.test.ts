import nock from "nock";
import { describe, expect, it } from "vitest";
import { simulateAutomerge } from "../../src/processors/automerge/simulate.js";
import type { Scenario } from "./fixtures.js";
import {
  HEAD,
  hoursAgo,
  mockCheckRun,
  mockMerge,
  mockMergedComment,
  mockRead,
} from "./fixtures.js";
import { runTasks, setup } from "./harness.js";

/*
 * bg-agent's app has no `administration: read`, so `GET /branches/{b}/protection` answers 403.
 * The required checks then come from the summary `GET /branches/{b}` gives any reader, plus
 * rulesets; only when neither says anything does every check count.
 */

const optionalLintFails: Scenario["checkRuns"] = [
  { name: "build", conclusion: "success" },
  { name: "lint", conclusion: "failure" },
];

describe("automerge: required checks without administration: read", () => {
  it("protection 403, branch summary lists `build`: an optional failing check no longer blocks the merge", async () => {
    const s = await setup();
    const sc: Scenario = {
      protection: 403,
      branchSummary: ["build"],
      checkRuns: optionalLintFails,
    };
    mockRead(sc);
    mockRead(sc); // the re-read right before merging
    const merge = mockMerge();
    const check = mockCheckRun();
    const comment = mockMergedComment();
    const [outcome] = await runTasks(s, [7]);
    expect(outcome?.status).toBe("done");
    expect(merge.body).toMatchObject({ sha: HEAD, merge_method: "squash" });
    expect(check.body?.output.title).toBe("Merged with squash");
    expect(check.body?.output.summary).toContain(
      "| ✅ | Checks successful | 1 required passed (required by branch protection, read from the branch summary); not required and not passing: `lint` |",
    );
    expect(comment.body).toContain("bg-agent merged this PR with squash at a1b2c3d");
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a failing check the branch summary requires still blocks it", async () => {
    const s = await setup();
    mockRead({
      protection: 403,
      branchSummary: ["lint"],
      checkRuns: optionalLintFails,
    });
    const check = mockCheckRun();
    await runTasks(s, [7]);
    expect(check.body?.output.title).toBe("Waiting: Checks successful");
    expect(check.body?.output.summary).toContain(
      "| ❌ | Checks successful | failing: `lint` (failure) |",
    );
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a check the summary requires must report: not merged while it has not", async () => {
    const s = await setup();
    mockRead({
      protection: 403,
      branchSummary: ["build", "e2e"],
      checkRuns: [{ name: "build", conclusion: "success", startedAt: hoursAgo(0.2) }],
    });
    const check = mockCheckRun();
    await runTasks(s, [7]);
    expect(check.body?.output.summary).toContain(
      "| ❌ | Checks successful | required but not reported yet: `e2e` |",
    );
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("adds the checks rulesets require to the summary's", async () => {
    const s = await setup();
    mockRead({
      protection: 403,
      branchSummary: ["build"],
      rules: [
        {
          type: "required_status_checks",
          parameters: {
            strict_required_status_checks_policy: false,
            required_status_checks: [{ context: "e2e", integration_id: 15368 }],
          },
        },
      ],
      checkRuns: [
        { name: "build", conclusion: "success" },
        { name: "e2e", conclusion: "failure" },
        { name: "lint", conclusion: "failure" },
      ],
    });
    const check = mockCheckRun();
    await runTasks(s, [7]);
    expect(check.body?.output.summary).toContain(
      "| ❌ | Checks successful | failing: `e2e` (failure) |",
    );
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("protected without required checks (enforcement `off`): every check counts, and it says why", async () => {
    const s = await setup();
    mockRead({ protection: 403, branchSummary: "off", checkRuns: optionalLintFails });
    const check = mockCheckRun();
    await runTasks(s, [7]);
    expect(check.body?.output.summary).toContain(
      "| ❌ | Checks successful | failing: `lint` (failure) |",
    );
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("an unprotected base branch: protection is not asked for, every check counts", async () => {
    const s = await setup();
    // protection 404 makes the branch `protected: false`: no /protection interceptor exists, so
    // asking for it would fail the read.
    mockRead({ protection: 404 });
    mockRead({ protection: 404 });
    mockMerge();
    const check = mockCheckRun();
    mockMergedComment();
    await runTasks(s, [7]);
    expect(check.body?.output.summary).toContain(
      "| ✅ | Checks successful | all 1 passed (no branch protection: every check counts) |",
    );
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("`/bg simulate` names the source", async () => {
    const s = await setup();
    mockRead({ protection: 403, branchSummary: ["build"], checkRuns: optionalLintFails });
    const { markdown } = await simulateAutomerge(s.ctx, 7);
    expect(markdown).toContain(
      "| ✅ | Checks successful | 1 required passed (required by branch protection, read from the branch summary); not required and not passing: `lint` |",
    );
    expect(markdown).toContain("**Result:** would merge with squash, pinned to a1b2c3d.");
    expect(nock.pendingMocks()).toEqual([]);
  });
});

describe("automerge: branch protection unreadable", () => {
  it("protection 403 and no summary on the branch: every check counts", async () => {
    const s = await setup();
    mockRead({ protection: 403, branchSummary: "absent", checkRuns: optionalLintFails });
    const check = mockCheckRun();
    await runTasks(s, [7]);
    expect(check.body?.output.summary).toContain(
      "| ❌ | Checks successful | failing: `lint` (failure) |",
    );
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("says which rule applied when all pass", async () => {
    const s = await setup();
    mockRead({ protection: 403, branchSummary: "absent" });
    mockRead({ protection: 403, branchSummary: "absent" });
    mockMerge();
    const check = mockCheckRun();
    mockMergedComment();
    await runTasks(s, [7]);
    expect(check.body?.output.summary).toContain(
      "| ✅ | Checks successful | all 1 passed (branch protection not readable (403, and no summary from the branch API): every check counts) |",
    );
    expect(nock.pendingMocks()).toEqual([]);
  });
});

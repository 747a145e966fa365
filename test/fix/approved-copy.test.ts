import nock from "nock";
import { describe, expect, it } from "vitest";
import type { Task } from "../../src/core/domain.js";
import {
  API,
  GOOD_EDIT,
  KEY,
  REPO,
  edits,
  nockIssueComment,
  nockNewPr,
  nockReads,
} from "./fixture.js";
import { fixTestBed, runFix } from "./harness.js";

/**
 * A runner in connected mode claims the app's `fix` task but not the app's store: the task carries
 * a copy of the approved proposal (`approved`, written by `/bg approve`), and that is carried out.
 */

const PLAN = "Make add() return the sum of its arguments instead of their difference.";

const bed = fixTestBed();

/** The app's fix task for its proposal 1, as a runner's local bed.store holds it after the claim. */
async function claimedTask(o: { approved?: boolean } = {}): Promise<Task> {
  await bed.store.tasks.enqueue({
    repo: REPO,
    type: "fix",
    source: "issue:12",
    payload: {
      key: KEY,
      proposalId: 1,
      ...(o.approved === false
        ? {}
        : {
            approved: {
              by: "alice",
              at: Date.now(),
              contentHash: "h1",
              plan: PLAN,
              affectedFiles: ["src/math.js"],
            },
          }),
    },
  });
  const [task] = await bed.store.tasks.claim({
    owner: "w",
    leaseMs: 60_000,
    limit: 1,
    types: ["fix"],
  });
  return task!;
}

describe("fix: the approved copy in the task", () => {
  it("without the proposal in this bed.store, the copy is carried out: the plan reaches the LLM and a PR opens", async () => {
    // This store's own proposal 1 is about another issue: the ids of two stores say nothing of each other.
    await bed.store.proposals.propose({
      repo: REPO,
      kind: "fix",
      target: "issue:3",
      contentHash: "x",
    });
    const task = await claimedTask();
    const api = nockReads();
    const pr: { pr?: Record<string, unknown>; labels?: string[] } = {};
    nockNewPr(api, pr);
    nockIssueComment(api, {});

    const { outcome, llm } = await runFix(bed, task, { replies: [edits([GOOD_EDIT])] });

    expect(outcome).toMatchObject({ status: "done" });
    expect(JSON.stringify(llm.calls[0]!.messages)).toContain(PLAN);
    expect(bed.fx.branchFile("bg/fix-12", "src/math.js")).toContain("return a + b;");
    expect(String(pr.pr!.body)).toContain("Fixes #12");
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("without the proposal and without a copy, the fix is refused as before", async () => {
    const task = await claimedTask({ approved: false });
    const comment: { body?: string } = {};
    nockIssueComment(nock(API), comment);
    const { outcome, llm } = await runFix(bed, task, { replies: [] });
    expect(outcome).toMatchObject({ status: "failed", permanent: true });
    expect(llm.calls).toHaveLength(0);
    expect(comment.body).toContain("fix proposal 1 does not exist");
    expect(nock.pendingMocks()).toEqual([]);
  });
});

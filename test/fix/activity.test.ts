import nock from "nock";
import { describe, expect, it } from "vitest";
import { createProcessors } from "../../src/processors/index.js";
import { runPass } from "../../src/worker/pass.js";
import { testEnv } from "../helpers/context.js";
import { fakeLlm } from "../helpers/fake-llm.js";
import { REPO, approvedFix, nockReads } from "./fixture.js";
import { fixTestBed } from "./harness.js";

const bed = fixTestBed();

describe("fix: the check before every round", () => {
  it("a person comments during round 1 (injected once): the next round's LLM call is not sent, no branch, the fix waits (lost 0, done twice 0, no attempt spent)", async () => {
    await approvedFix(bed.store);
    await bed.store.tasks.release(
      (await bed.store.tasks.list({ type: "fix" })).map((t) => t.id),
      "test-worker",
      Date.now() - 1,
    );
    const attemptsBefore = (await bed.store.tasks.list({ type: "fix" }))[0]!.attempts;
    nockReads();
    // Round 1's answer is unusable, so the round would ask once more; alice comments meanwhile.
    const llm = fakeLlm([
      async () => {
        await bed.store.activity.recordHuman(REPO, "alice");
        return "not the edits format";
      },
    ]);
    const env = testEnv(bed.store, {
      config: { activity: { pause_when_active_minutes: 5 } },
      llm,
      workspace: bed.fx.checkout,
    });

    const summary = await runPass(env, createProcessors(), { repo: REPO });

    expect(llm.calls).toHaveLength(1);
    expect(summary.repos[0]!.processed).toEqual([
      expect.objectContaining({
        type: "fix",
        outcome: "retry",
        detail: expect.stringContaining("people are active (@alice"),
      }),
    ]);
    expect(bed.fx.branches()).toEqual(["main"]);
    const [task] = await bed.store.tasks.list({ type: "fix" });
    expect(task).toMatchObject({ status: "pending", attempts: attemptsBefore });
    expect(task!.nextRunAt).toBeGreaterThan(Date.now() + 4 * 60_000);
    expect(nock.pendingMocks()).toEqual([]);
  });
});

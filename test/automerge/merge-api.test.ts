import nock from "nock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createAutomergeProcessor } from "../../src/processors/automerge/processor.js";
import type { Store } from "../../src/store/index.js";
import type { ProcessorContext, TaskOutcome } from "../../src/core/worker-contract.js";
import { testCtx } from "../helpers/context.js";
import { memoryStore } from "../helpers/store.js";
import { HEAD, NOW, REPO, fakeApi, snapshot } from "./fake-merge-api.js";

/*
 * The automerge processor driven through a fake MergeApi: no nock, no HTTP. The fake answers the
 * reads from a snapshot and records every write, so the tests count what was written.
 */

async function runOnce(
  store: Store,
  ctx: ProcessorContext,
  processor: ReturnType<typeof createAutomergeProcessor>,
): Promise<TaskOutcome> {
  await store.tasks.enqueue({ repo: REPO, type: "automerge", source: "pr:7", payload: { pr: 7 } });
  const [task] = await store.tasks.claim({
    owner: "test-worker",
    leaseMs: 60_000,
    limit: 1,
    repo: REPO,
  });
  const out = await processor.process(ctx, [task!]);
  await store.tasks.complete(task!.id, "test-worker", null);
  return out.get(task!.id)!;
}

describe("automerge through a fake MergeApi (no HTTP)", () => {
  beforeEach(() => nock.disableNetConnect());
  afterEach(() => {
    expect(nock.pendingMocks()).toEqual([]);
    nock.cleanAll();
  });

  it("merges a ready PR once, pinned to the evaluated head, and reports it", async () => {
    const store = await memoryStore();
    const ctx = await testCtx(store, REPO);
    const { api, writes } = fakeApi(ctx, snapshot());
    const outcome = await runOnce(
      store,
      ctx,
      createAutomergeProcessor({ api: () => api, now: () => NOW }),
    );

    expect(outcome).toMatchObject({ status: "done", result: [{ pr: 7, state: "merged" }] });
    expect(writes.merges).toEqual([{ pr: 7, sha: HEAD, method: "squash" }]);
    expect(writes.checks.map((c) => [c.conclusion, c.title])).toEqual([
      ["success", "Merged with squash"],
    ]);
    expect(writes.comments.map((c) => c.kind)).toEqual(["automerge-merged"]);
    expect((await store.automerge.get(REPO, 7))?.state).toBe("merged");
    expect((await store.runs.list({ repo: REPO })).map((r) => r.status)).toEqual(["merged"]);
  });

  it("does not merge a PR whose check failed: it says which check, and writes nothing else", async () => {
    const store = await memoryStore();
    const ctx = await testCtx(store, REPO);
    const { api, writes } = fakeApi(ctx, snapshot("failure"));
    const outcome = await runOnce(
      store,
      ctx,
      createAutomergeProcessor({ api: () => api, now: () => NOW }),
    );

    expect(outcome.status).toBe("done");
    expect(writes.merges).toEqual([]);
    expect(writes.queued + writes.updates + writes.comments.length).toBe(0);
    expect(writes.checks).toHaveLength(1);
    expect(writes.checks[0]!.conclusion).toBe("neutral");
    expect(writes.checks[0]!.summary).toContain("build");
    expect((await store.automerge.get(REPO, 7))?.state).not.toBe("merged");
  });

  it("injects a 405 from the merge call: the refusal is recorded once (0 lost, 0 twice)", async () => {
    const store = await memoryStore();
    const ctx = await testCtx(store, REPO);
    const refusal = Object.assign(new Error("Merge not allowed: required reviews"), {
      status: 405,
    });
    const { api, writes } = fakeApi(ctx, snapshot(), refusal);
    const processor = createAutomergeProcessor({ api: () => api, now: () => NOW });

    const first = await runOnce(store, ctx, processor);
    // A refusal is a wait for the next event, not a failure and not a timed retry.
    expect(first).toMatchObject({ status: "done", result: [{ pr: 7, state: "waiting" }] });
    expect(writes.merges).toHaveLength(1);
    expect(writes.checks).toHaveLength(1);
    expect(writes.checks[0]!.title).toBe("Waiting: GitHub refused the merge");
    expect(writes.checks[0]!.summary).toContain("GitHub refused the merge (405: Merge not allowed");
    // Lost: 0 — the PR's state says why it waits.
    expect((await store.automerge.get(REPO, 7))?.state).toBe("waiting");
    expect(writes.comments).toEqual([]);
    expect((await store.runs.list({ repo: REPO })).map((r) => r.status)).toEqual(["waiting"]);

    // The same refusal again: the check run is not published twice.
    await runOnce(store, ctx, processor);
    expect(writes.merges).toHaveLength(2);
    expect(writes.checks).toHaveLength(1);
    expect(writes.comments).toEqual([]);
  });
});

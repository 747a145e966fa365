import nock from "nock";
import { describe, expect, it } from "vitest";
import { createProcessors } from "../../src/processors/index.js";
import { simulateAutomerge } from "../../src/processors/automerge/simulate.js";
import { runPass } from "../../src/worker/pass.js";
import { testCtx, testEnv } from "../helpers/context.js";
import { memoryStore } from "../helpers/store.js";
import { REPO, hoursAgo, mockCheckRun, mockMerge, mockPull, mockRead } from "./fixtures.js";

describe("automerge through a worker pass", () => {
  it("a 409 leaves the task pending for later, without using up an attempt", async () => {
    const store = await memoryStore();
    const env = testEnv(store);
    await store.tasks.enqueue({
      repo: REPO,
      type: "automerge",
      source: "pr:7",
      payload: { pr: 7 },
    });
    mockRead();
    mockRead();
    mockMerge(7, [
      409,
      { message: "Head branch was modified. Review and try the merge again.", status: "409" },
    ]);
    mockCheckRun();
    const before = Date.now();
    const summary = await runPass(env, createProcessors(), { repo: REPO, mode: "automerge" });
    expect(summary.repos[0]?.processed).toMatchObject([
      { type: "automerge", source: "pr:7", outcome: "retry" },
    ]);
    const [task] = await store.tasks.list({ repo: REPO });
    expect(task).toMatchObject({ status: "pending", attempts: 0 });
    expect(task!.nextRunAt).toBeGreaterThan(before);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a check that never completes ends the task once timed out (no endless re-checks)", async () => {
    const store = await memoryStore();
    const env = testEnv(store, { config: { automerge: { check_timeout_hours: 2 } } });
    await store.tasks.enqueue({
      repo: REPO,
      type: "automerge",
      source: "pr:7",
      payload: { pr: 7 },
    });
    mockRead({ checkRuns: [{ name: "e2e", status: "in_progress", startedAt: hoursAgo(3) }] });
    mockCheckRun();
    await runPass(env, createProcessors(), { repo: REPO, mode: "automerge" });
    expect((await store.tasks.list({ repo: REPO }))[0]).toMatchObject({ status: "done" });
    expect((await store.automerge.get(REPO, 7))?.state).toBe("blocked");
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("the sweep of a pass finds PRs no webhook announced", async () => {
    const store = await memoryStore();
    const env = testEnv(store, { config: { automerge: { authors: ["bots"] } } });
    nock("https://api.github.com")
      .get(`/repos/${REPO}/pulls`)
      .query(true)
      .reply(200, [{ number: 7, state: "open", head: { sha: "a".repeat(40) } }]);
    mockPull({ author: "alice" }); // not a candidate: one read, nothing written on GitHub
    const summary = await runPass(env, createProcessors(), {
      repo: REPO,
      mode: "automerge",
      sweep: true,
    });
    expect(summary.repos[0]?.processed).toMatchObject([{ source: "pr:7", outcome: "done" }]);
    expect(nock.pendingMocks()).toEqual([]);
  });
});

describe("reviews: each reviewer's latest review counts", () => {
  it("a later change request replaces an approval; a later comment does not", async () => {
    const store = await memoryStore();
    const ctx = await testCtx(store, REPO);
    mockRead({
      reviews: [
        { login: "bob", state: "APPROVED" },
        { login: "bob", state: "CHANGES_REQUESTED" },
        { login: "carol", state: "CHANGES_REQUESTED" },
        { login: "carol", state: "APPROVED" },
        { login: "carol", state: "COMMENTED" },
      ],
    });
    const { markdown } = await simulateAutomerge(ctx, 7);
    expect(markdown).toContain("| ✅ | Approvals | 1 of 1 required: `carol` |");
    expect(markdown).toContain("| ❌ | No changes requested | changes requested by `bob` |");
    expect(nock.pendingMocks()).toEqual([]);
  });
});

describe("simulateAutomerge (/bg simulate)", () => {
  it("describes a ready PR and merges nothing", async () => {
    const store = await memoryStore();
    const ctx = await testCtx(store, REPO);
    mockRead(); // reads only: no merge, no check run, no comment registered
    const { markdown } = await simulateAutomerge(ctx, 7);
    const lines = markdown.split("\n");
    expect(lines[0]).toBe(
      "**Automerge simulation for #7** at a1b2c3d (nothing was merged or changed)",
    );
    expect(lines).toContain(
      "| ✅ | Checks successful | all 1 passed (no branch protection: every check counts) |",
    );
    expect(markdown).toContain("**Result:** would merge with squash, pinned to a1b2c3d.");
    expect(markdown).toContain("Commit title: `Tidy the config loader (#7)`");
    expect(await store.automerge.get(REPO, 7)).toBeUndefined();
    expect(await store.runs.count()).toBe(0);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("says why it would wait, reading everything even for a non-candidate", async () => {
    const store = await memoryStore();
    const ctx = await testCtx(store, REPO, {
      config: { automerge: { required_label: "automerge" } },
    });
    mockRead({ checkRuns: [{ name: "build", conclusion: "failure" }] });
    const { markdown } = await simulateAutomerge(ctx, 7);
    expect(markdown).toContain(
      "**Result:** would wait because:\n- Labels: needs label `automerge`\n",
    );
    expect(markdown).toContain("- Labels: needs label `automerge`");
    expect(markdown).toContain("- Checks successful: failing: `build` (failure)");
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("answers for a PR that does not exist", async () => {
    const store = await memoryStore();
    const ctx = await testCtx(store, REPO);
    nock("https://api.github.com")
      .get(`/repos/${REPO}/pulls/404`)
      .reply(404, { message: "Not Found" });
    expect((await simulateAutomerge(ctx, 404)).markdown).toContain(
      "this pull request does not exist",
    );
    expect(nock.pendingMocks()).toEqual([]);
  });
});

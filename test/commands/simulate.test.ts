import nock from "nock";
import { describe, expect, it, vi } from "vitest";
import { commandProcessor } from "../../src/commands/processor.js";
import { onIssueComment } from "../../src/intake/issue-comment.js";
import { runPass } from "../../src/worker/pass.js";
import { testEnv } from "../helpers/context.js";
import { memoryStore } from "../helpers/store.js";
import { REPO, commentEvent, intakeDeps, mockGitHub } from "./helpers.js";

const calls = vi.hoisted(() => [] as number[]);
vi.mock("../../src/processors/automerge/simulate.js", () => ({
  simulateAutomerge: async (_ctx: unknown, pr: number) => {
    calls.push(pr);
    return { markdown: "- [x] checks green at abc123\n- [ ] 1 approving review (0 so far)" };
  },
}));

describe("/bg simulate on a PR", () => {
  it("replies with the automerge evaluation, open to anyone, merging nothing", async () => {
    const store = await memoryStore();
    const gh = mockGitHub({ issue: 5, user: "drive-by" }); // no permission lookup expected
    await onIssueComment(
      intakeDeps(store),
      commentEvent({ body: "/bg simulate", pr: true, issue: 5, login: "drive-by" }),
    );
    await runPass(testEnv(store), [commandProcessor()]);
    expect(calls).toEqual([5]);
    expect(gh.replies[0]).toContain("Automerge simulation for #5 (nothing was merged):");
    expect(gh.replies[0]).toContain("- [ ] 1 approving review (0 so far)");
    expect(store.audit.list({ repo: REPO })).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });
});

import nock from "nock";
import { describe, expect, it } from "vitest";
import { commandProcessor } from "../../src/commands/processor.js";
import { onIssueComment } from "../../src/intake/issue-comment.js";
import { runPass } from "../../src/worker/pass.js";
import { REPO as DEMO, mockRead } from "../automerge/fixtures.js";
import { testEnv } from "../helpers/context.js";
import { memoryStore } from "../helpers/store.js";
import { commentEvent, intakeDeps, mockGitHub } from "./helpers.js";

describe("/bg simulate on a PR", () => {
  it("replies with the real automerge evaluation (condition table, result), open to anyone, merging nothing", async () => {
    const store = await memoryStore();
    // The command's own calls: 👀 and the reply. No permission lookup (simulate is open to all).
    const gh = mockGitHub({ repo: DEMO, issue: 7, user: "drive-by" });
    // Every GitHub read one automerge evaluation makes; no merge, check run or comment is mocked,
    // so any write would fail the pass.
    mockRead({ checkRuns: [{ name: "build", conclusion: "failure" }] });
    await onIssueComment(
      intakeDeps(store),
      commentEvent({ body: "/bg simulate", pr: true, issue: 7, login: "drive-by", repo: DEMO }),
    );
    const summary = await runPass(testEnv(store), [commandProcessor()]);
    expect(summary.repos[0]!.processed[0]).toMatchObject({ type: "command", outcome: "done" });

    const reply = gh.replies[0]!;
    expect(reply).toContain("> `/bg simulate`");
    // simulateAutomerge's Markdown as it is: its heading, the condition table, the verdict.
    expect(reply).toContain(
      "**Automerge simulation for #7** at a1b2c3d (nothing was merged or changed)",
    );
    expect(reply).toMatch(/^\| .* \| Checks successful \| failing: `build` \(failure\) \|$/m);
    expect(reply).toContain("| ✅ | Approvals |");
    expect(reply).toContain("**Result:** would wait because:");
    expect(reply).not.toContain("could not evaluate");
    expect(await store.audit.list({ repo: DEMO })).toEqual([]);
    expect(await store.automerge.get(DEMO, 7)).toBeUndefined();
    expect(nock.pendingMocks()).toEqual([]);
  });
});

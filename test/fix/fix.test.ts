import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import nock from "nock";
import { describe, expect, it } from "vitest";
import { BudgetExceededError } from "../../src/llm/types.js";
import { createProcessors } from "../../src/processors/index.js";
import type { LinearGateway, LinearIssue } from "../../src/integrations/linear-types.js";
import { createFixProcessor } from "../../src/processors/fix/index.js";
import { runPass } from "../../src/worker/pass.js";
import { testEnv } from "../helpers/context.js";
import { fakeLlm } from "../helpers/fake-llm.js";
import {
  API,
  GOOD_EDIT,
  KEY,
  REPO,
  approvedFix,
  edits,
  git,
  leftovers,
  nockIssueComment,
  nockNewPr,
  nockReads,
  proven,
} from "./fixture.js";
import { TESTED, fixTestBed, runFix } from "./harness.js";

/** Gone, or a zombie left for a PID 1 that does not reap (containers). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return true;
  }
}

const bed = fixTestBed();

describe("fix: an approved plan becomes a tested pull request", () => {
  it("pushes bg/fix-12 with the change and opens a PR that links the issue (through the worker pass)", async () => {
    const { proposalId } = await approvedFix(bed.store);
    // Put the claimed task back so the real worker pass claims it.
    await bed.store.tasks.release(
      (await bed.store.tasks.list({ type: "fix" })).map((t) => t.id),
      "test-worker",
      Date.now() - 1,
    );
    const api = nockReads();
    const sink: { pr?: Record<string, unknown>; labels?: string[] } = {};
    const comment: { body?: string } = {};
    nockNewPr(api, sink);
    nockIssueComment(api, comment);
    const llm = fakeLlm([proven()]);
    const env = testEnv(bed.store, { config: TESTED, llm, workspace: bed.fx.checkout });

    const summary = await runPass(env, createProcessors(), { repo: REPO });

    expect(summary.repos[0]!.processed).toEqual([
      expect.objectContaining({ type: "fix", outcome: "done" }),
    ]);
    expect(bed.fx.branchFile("bg/fix-12", "src/math.js")).toContain("return a + b;");
    expect(git(bed.fx.bare, "log", "-1", "--format=%an", "bg/fix-12").trim()).toBe("bg-agent");
    expect(sink.pr).toMatchObject({ head: "bg/fix-12", base: "main" });
    const body = String(sink.pr!.body);
    expect(body).toContain("Fixes #12");
    expect(body).toContain("<!-- bg-agent:fix:octo/demo#12 -->");
    expect(body).toContain("Opened by **bg-agent**");
    expect(body).toContain("`src/math.js`");
    expect(body).toContain("`node test.js` passed");
    expect(body).not.toContain("before this change");
    expect(body).toContain("✅ **Proven:** the test `sum.test.js` failed on the unchanged branch");
    expect(sink.labels).toEqual(["bg:fix"]);
    expect(comment.body).toContain("https://github.com/octo/demo/pull/34");
    // The PR waits for a person: a merge proposal, not a merge.
    expect(await bed.store.proposals.latest(REPO, "pr:34", "merge")).toMatchObject({
      status: "proposed",
      payload: { key: KEY, fixProposalId: proposalId },
    });
    const [run] = await bed.store.runs.list({ kind: "fix" });
    expect(run).toMatchObject({
      status: "ok",
      ref: "issue:12",
      url: "https://github.com/octo/demo/pull/34",
      promptTokens: 100,
      completionTokens: 20,
    });
    expect(run!.costUsd).toBeCloseTo(0.0001);
    // The LLM saw the plan and the file, after the project context it shares with analysis.
    const msgs = llm.calls[0]!.messages;
    expect(msgs[0]!.role).toBe("system");
    expect(String(msgs[0]!.content)).toContain("A tiny package that adds numbers.");
    expect(String(msgs[2]!.content)).toContain("return a - b;");
    // The runner's checkout is untouched and the worktree is gone.
    expect(git(bed.fx.checkout, "status", "--porcelain")).toBe("");
    expect(git(bed.fx.checkout, "worktree", "list").trim().split("\n")).toHaveLength(1);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("clones into a temp dir when there is no checkout, and removes it afterwards", async () => {
    const { task } = await approvedFix(bed.store);
    const api = nockReads();
    const sink: { pr?: Record<string, unknown>; labels?: string[] } = {};
    nockNewPr(api, sink);
    nockIssueComment(api, {});
    const { outcome } = await runFix(bed, task, {
      replies: [edits([GOOD_EDIT])],
      workspace: false,
    });
    expect(outcome.status).toBe("done");
    expect(bed.fx.branchFile("bg/fix-12", "src/math.js")).toContain("return a + b;");
    expect(leftovers(bed.fx)).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("reuses the branch and updates the open PR on a retry", async () => {
    git(bed.fx.checkout, "push", "--quiet", "origin", "main:bg/fix-12");
    const { task } = await approvedFix(bed.store);
    const api = nockReads();
    let updated: Record<string, unknown> | undefined;
    api
      .get(`/repos/${REPO}/pulls`)
      .query(true)
      .reply(200, [
        {
          number: 34,
          head: { ref: "bg/fix-12" },
          labels: [{ name: "bg:fix" }, { name: "bg:unverified" }],
        },
      ])
      .patch(`/repos/${REPO}/pulls/34`, (b: Record<string, unknown>) => {
        updated = b;
        return true;
      })
      .reply(200, { number: 34, html_url: `https://github.com/${REPO}/pull/34` })
      .delete(`/repos/${REPO}/issues/34/labels/bg%3Aunverified`)
      .reply(200, [])
      .post(`/repos/${REPO}/issues/34/labels`, { labels: ["bg:fix"] })
      .reply(200, []);
    const comment: { body?: string } = {};
    nockIssueComment(api, comment);
    const { outcome } = await runFix(bed, task, { replies: [proven()] });
    expect(outcome).toMatchObject({ status: "done", result: { pr: 34 } });
    expect(String(updated!.body)).toContain("Fixes #12");
    expect(bed.fx.branchFile("bg/fix-12", "src/math.js")).toContain("return a + b;");
    expect(comment.body).toContain("updated pull request #34");
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("with no test command, says plainly that nothing was verified and labels bg:unverified", async () => {
    const { task } = await approvedFix(bed.store);
    const api = nockReads();
    const sink: { pr?: Record<string, unknown>; labels?: string[] } = {};
    nockNewPr(api, sink);
    nockIssueComment(api, {});
    const { outcome } = await runFix(bed, task, { config: {}, replies: [edits([GOOD_EDIT])] });
    expect(outcome.status).toBe("done");
    expect(String(sink.pr!.body)).toContain("Nothing was verified");
    expect(sink.labels).toEqual(["bg:fix", "bg:unverified"]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("fixes a Linear issue: branch bg/fix-ENG-7, PR links it, the verdict goes to Linear", async () => {
    const issue: LinearIssue = {
      id: "lin-uuid-7",
      identifier: "ENG-7",
      title: "add() subtracts",
      description: "",
      url: "https://linear.app/acme/issue/ENG-7",
      state: "Backlog",
      labels: ["tech-debt"],
      teamKey: "ENG",
    };
    const comments: { id: string; body: string }[] = [];
    const linear: LinearGateway = {
      listIssues: async () => [issue],
      getIssue: async (id) => (id === "ENG-7" ? issue : null),
      comment: async (id, body) => void comments.push({ id, body }),
      moveToState: async () => {},
    };
    const p = await bed.store.proposals.propose({
      repo: REPO,
      kind: "fix",
      target: "linear:ENG-7",
      contentHash: "h",
      payload: {
        key: "ENG-7",
        plan: "Make add() add.",
        affectedFiles: ["src/math.js"],
        complexity: "low",
      },
    });
    await bed.store.proposals.decide(p.id, "approved", "alice");
    await bed.store.tasks.enqueue({
      repo: REPO,
      type: "fix",
      source: "linear:ENG-7",
      payload: { key: "ENG-7", proposalId: p.id },
    });
    const [task] = await bed.store.tasks.claim({ owner: "test-worker", leaseMs: 60_000, limit: 1 });
    let pr: Record<string, unknown> | undefined;
    nock(API)
      .get(`/repos/${REPO}`)
      .reply(200, { default_branch: "main" })
      .get(`/repos/${REPO}/pulls`)
      .query({ head: "octo:bg/fix-ENG-7", state: "open", per_page: "10" })
      .reply(200, [])
      .post(`/repos/${REPO}/pulls`, (b: Record<string, unknown>) => {
        pr = b;
        return true;
      })
      .reply(201, { number: 35, html_url: `https://github.com/${REPO}/pull/35` })
      .post(`/repos/${REPO}/issues/35/labels`)
      .reply(200, []);
    const { outcome, llm } = await runFix(bed, task!, {
      replies: [edits([GOOD_EDIT])],
      linear,
      deps: {
        projectContext: async (root) => `CONTEXT FROM THE SHARED BUILDER for ${root.length > 0}`,
      },
    });
    expect(outcome.status).toBe("done");
    expect(bed.fx.branchFile("bg/fix-ENG-7", "src/math.js")).toContain("return a + b;");
    expect(String(pr!.title)).toContain("ENG-7");
    expect(String(pr!.body)).toContain("Fixes ENG-7");
    expect(String(pr!.body)).toContain("(https://linear.app/acme/issue/ENG-7)");
    expect(comments).toEqual([
      { id: "lin-uuid-7", body: expect.stringContaining("pull request #35") },
    ]);
    expect(String(llm.calls[0]!.messages[0]!.content)).toContain(
      "CONTEXT FROM THE SHARED BUILDER for true",
    );
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a Linear fix that opens no PR still links its run to the Linear issue", async () => {
    const issue: LinearIssue = {
      id: "lin-uuid-8",
      identifier: "ENG-8",
      title: "add() subtracts",
      description: "",
      url: "https://linear.app/acme/issue/ENG-8",
      state: "Backlog",
      labels: ["tech-debt"],
      teamKey: "ENG",
    };
    const comments: { id: string; body: string }[] = [];
    const linear: LinearGateway = {
      listIssues: async () => [issue],
      getIssue: async (id) => (id === "ENG-8" ? issue : null),
      comment: async (id, body) => void comments.push({ id, body }),
      moveToState: async () => {},
    };
    const p = await bed.store.proposals.propose({
      repo: REPO,
      kind: "fix",
      target: "linear:ENG-8",
      contentHash: "h",
      payload: { key: "ENG-8", plan: "Make add() add.", affectedFiles: ["src/math.js"] },
    });
    await bed.store.proposals.decide(p.id, "approved", "alice");
    await bed.store.tasks.enqueue({
      repo: REPO,
      type: "fix",
      source: "linear:ENG-8",
      payload: { key: "ENG-8", proposalId: p.id },
    });
    const [task] = await bed.store.tasks.claim({ owner: "test-worker", leaseMs: 60_000, limit: 1 });
    nock(API).get(`/repos/${REPO}`).reply(200, { default_branch: "main" });
    const { outcome } = await runFix(bed, task!, {
      replies: ["Sure! Change the minus to a plus.", "Still not JSON."],
      linear,
    });
    expect(outcome.status).toBe("failed");
    expect(comments).toHaveLength(1);
    const [run] = await bed.store.runs.list({ repo: REPO });
    expect(run).toMatchObject({
      kind: "fix",
      ref: "linear:ENG-8",
      status: "failed",
      url: "https://linear.app/acme/issue/ENG-8",
    });
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("dry-run computes and tests the edit but pushes, opens and records nothing", async () => {
    const { task } = await approvedFix(bed.store);
    nockReads();
    const { outcome, llm } = await runFix(bed, task, {
      replies: [edits([GOOD_EDIT])],
      dryRun: true,
    });
    expect(outcome).toMatchObject({
      status: "done",
      result: { dryRun: true, files: ["src/math.js"], verification: "passed" },
    });
    expect(llm.calls).toHaveLength(1);
    expect(bed.fx.branches()).toEqual(["main"]);
    expect(await bed.store.runs.count()).toBe(0);
    expect(await bed.store.proposals.list({ kind: "merge" })).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });
});

describe("fix: failures end in a comment, not a PR", () => {
  it("a failing test command gets one repair round, then a comment with the output instead of a PR", async () => {
    const { task } = await approvedFix(bed.store);
    const api = nockReads();
    const comment: { body?: string } = {};
    nockIssueComment(api, comment);
    const { outcome, llm } = await runFix(bed, task, {
      replies: [
        edits([{ path: "src/math.js", search: "return a - b;", replace: "return a - b + 1;" }]),
        edits([{ path: "src/math.js", search: "return a - b + 1;", replace: "return b - a;" }]),
      ],
    });
    expect(outcome).toMatchObject({ status: "failed", permanent: true });
    expect(llm.calls).toHaveLength(2);
    const repairPrompt = String(llm.calls[1]!.messages.at(-1)!.content);
    expect(repairPrompt).toContain("failed with exit code 1");
    expect(repairPrompt).toContain("AssertionError");
    expect(repairPrompt).toContain("return a - b + 1;");
    expect(bed.fx.branches()).toEqual(["main"]);
    expect(comment.body).toContain("did **not** open a pull request");
    expect(comment.body).toContain("tests still fail after one repair round");
    // They passed before the change: the change broke them.
    expect(comment.body).toContain(
      'tests on the unchanged main (before the edits): "node test.js" passed',
    );
    expect(comment.body).toContain("repair: edits to src/math.js");
    expect(comment.body).toContain("AssertionError");
    expect((await bed.store.runs.list({ kind: "fix" }))[0]).toMatchObject({
      status: "failed",
      promptTokens: 200,
    });
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a test command that hangs is killed at its limit and reported as timed out", async () => {
    // The pid as /proc shows it: inside the run's PID namespace, process.pid is the namespace's.
    const pidFile = join(bed.fx.root, "hang.pid");
    // Passes on the unchanged tree; hangs once src/math.js is edited.
    const hang = `node -e "const fs = require('fs'); if (fs.readFileSync('src/math.js', 'utf8').includes('a - b;')) process.exit(0); fs.appendFileSync('${pidFile}', fs.readlinkSync('/proc/self') + '\\n'); setInterval(() => {}, 1000)"`;
    const { task } = await approvedFix(bed.store);
    const api = nockReads();
    const comment: { body?: string } = {};
    nockIssueComment(api, comment);
    const { outcome, llm } = await runFix(bed, task, {
      config: { fix: { test_command: hang, timeout: "1s" } },
      replies: [
        edits([GOOD_EDIT]),
        edits([{ path: "src/math.js", search: "return a + b;", replace: "return b + a;" }]),
      ],
    });
    expect(outcome.status).toBe("failed");
    expect(llm.calls).toHaveLength(2);
    expect(comment.body).toContain("timed out after 1s and was killed");
    const pids = readFileSync(pidFile, "utf8").trim().split("\n").map(Number);
    expect(pids).toHaveLength(2);
    for (const pid of pids) expect(isRunning(pid)).toBe(false);
    expect(bed.fx.branches()).toEqual(["main"]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("refuses an edit to a file outside the plan", async () => {
    const { task } = await approvedFix(bed.store);
    const api = nockReads();
    const comment: { body?: string } = {};
    nockIssueComment(api, comment);
    const { outcome, llm } = await runFix(bed, task, {
      replies: [edits([GOOD_EDIT, { path: "src/other.js", content: "module.exports = 2;\n" }])],
    });
    expect(outcome.status).toBe("failed");
    expect(llm.calls).toHaveLength(1);
    expect(comment.body).toContain("not one of the files named in the approved plan");
    expect(bed.fx.branches()).toEqual(["main"]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("refuses ../../etc/passwd even when edits outside the plan are allowed", async () => {
    const { task } = await approvedFix(bed.store);
    const api = nockReads();
    const comment: { body?: string } = {};
    nockIssueComment(api, comment);
    const { outcome } = await runFix(bed, task, {
      config: { fix: { test_command: "node test.js", allow_outside_plan: true } },
      replies: [edits([{ path: "../../etc/passwd", content: "root::0:0::/:/bin/sh\n" }])],
    });
    expect(outcome.status).toBe("failed");
    expect(comment.body).toContain("leaves the repository");
    expect(existsSync(join(bed.fx.tmp, "etc"))).toBe(false);
    expect(leftovers(bed.fx)).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("injects a committed link to .github/workflows: the edit through it is refused, nothing pushed", async () => {
    mkdirSync(join(bed.fx.checkout, ".github/workflows"), { recursive: true });
    writeFileSync(join(bed.fx.checkout, ".github/workflows/ci.yml"), "on: push\n");
    symlinkSync(".github/workflows", join(bed.fx.checkout, "ci"));
    git(bed.fx.checkout, "add", "-A");
    git(bed.fx.checkout, "-c", "user.name=Dev", "-c", "user.email=d@e", "commit", "-qm", "ci link");
    git(bed.fx.checkout, "push", "--quiet", "origin", "main");
    const { task } = await approvedFix(bed.store, { affectedFiles: ["src/math.js", "ci/"] });
    const api = nockReads();
    const comment: { body?: string } = {};
    nockIssueComment(api, comment);
    const { outcome } = await runFix(bed, task, {
      config: { fix: { test_command: "node test.js", allow_outside_plan: true } },
      replies: [edits([GOOD_EDIT, { path: "ci/deploy.yml", content: "on: push\njobs: {}\n" }])],
    });
    expect(outcome).toMatchObject({ status: "failed", permanent: true });
    expect(comment.body).toContain("workflow files");
    expect(bed.fx.branches()).toEqual(["main"]);
    expect(leftovers(bed.fx)).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("injects a test command that hangs (and a setsid child) past the fix's outer deadline: the pass gives up at the deadline, kills it all, the task is retried later", async () => {
    const marker = `1000.${Math.floor(Math.random() * 1e9)}`;
    await approvedFix(bed.store);
    await bed.store.tasks.release(
      (await bed.store.tasks.list({ type: "fix" })).map((t) => t.id),
      "test-worker",
      Date.now() - 1,
    );
    nockReads();
    const env = testEnv(bed.store, {
      config: {
        // The test run's own limit (10 minutes) is far away: the outer deadline ends it.
        fix: { test_command: `setsid sleep ${marker} & sleep ${marker}`, timeout: "10m" },
        worker: { processor_timeout: { fix: "3s" } },
      },
      llm: fakeLlm([edits([GOOD_EDIT])]),
      workspace: bed.fx.checkout,
    });
    const fix = createFixProcessor({
      tmpRoot: bed.fx.tmp,
      remote: async () => ({ url: bed.fx.bare }),
    });

    const summary = await runPass(env, [fix], { repo: REPO });

    expect(summary.repos[0]!.processed).toEqual([
      expect.objectContaining({ type: "fix", outcome: "failed" }),
    ]);
    // Lost: 0 (the task waits for a retry); done twice: 0 (no PR, no comment, nothing pushed).
    const [t] = await bed.store.tasks.list({ type: "fix" });
    expect(t).toMatchObject({ status: "pending", attempts: 1 });
    expect(t!.lastError).toContain("timed out after 3 s");
    const alive = readdirSync("/proc").filter((n) => {
      try {
        return (
          /^\d+$/.test(n) &&
          readFileSync(`/proc/${n}/cmdline`, "utf8").includes(marker) &&
          isRunning(Number(n))
        );
      } catch {
        return false;
      }
    });
    expect(alive).toEqual([]);
    expect(bed.fx.branches()).toEqual(["main"]);
    expect(leftovers(bed.fx)).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("retries an answer that is not in the format once, then comments", async () => {
    const { task } = await approvedFix(bed.store);
    const api = nockReads();
    const comment: { body?: string } = {};
    nockIssueComment(api, comment);
    const { outcome, llm } = await runFix(bed, task, {
      replies: [
        "Sure! Change the minus to a plus.",
        JSON.stringify({ edits: [{ file: "src/math.js" }] }),
      ],
    });
    expect(outcome.status).toBe("failed");
    expect(llm.calls).toHaveLength(2);
    expect(String(llm.calls[1]!.messages.at(-1)!.content)).toContain("is not JSON");
    expect(comment.body).toContain("does not match the format");
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a malformed first answer followed by a good one still opens the PR", async () => {
    const { task } = await approvedFix(bed.store);
    const api = nockReads();
    nockNewPr(api, {});
    nockIssueComment(api, {});
    const { outcome, llm } = await runFix(bed, task, { replies: ["not json", edits([GOOD_EDIT])] });
    expect(outcome.status).toBe("done");
    expect(llm.calls).toHaveLength(2);
    expect(bed.fx.branchFile("bg/fix-12", "src/math.js")).toContain("return a + b;");
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("edits whose search text is not in the file are retried once, then reported", async () => {
    const { task } = await approvedFix(bed.store);
    const api = nockReads();
    const comment: { body?: string } = {};
    nockIssueComment(api, comment);
    const stale = edits([
      { path: "src/math.js", search: "return a - c;", replace: "return a + c;" },
    ]);
    const { outcome, llm } = await runFix(bed, task, { replies: [stale, stale] });
    expect(outcome.status).toBe("failed");
    expect(llm.calls).toHaveLength(2);
    expect(comment.body).toContain("search text not found in src/math.js");
    expect(bed.fx.branches()).toEqual(["main"]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("refuses (with a comment) a fix whose proposal is not approved, without calling the LLM", async () => {
    const { task } = await approvedFix(bed.store, { status: "proposed" });
    const comment: { body?: string } = {};
    nockIssueComment(nock(API), comment);
    const { outcome, llm } = await runFix(bed, task, { replies: [] });
    expect(outcome).toMatchObject({ status: "failed", permanent: true });
    expect(llm.calls).toHaveLength(0);
    expect(comment.body).toContain("is proposed, not approved");
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("waits for the budget to roll over instead of failing", async () => {
    const { task } = await approvedFix(bed.store);
    nockReads();
    const at = Date.now() + 3_600_000;
    const { outcome } = await runFix(bed, task, {
      replies: [
        () => {
          throw new BudgetExceededError("day", 1, 1, at);
        },
      ],
    });
    expect(outcome).toEqual({ status: "retry", at, reason: expect.stringContaining("day budget") });
    expect(bed.fx.branches()).toEqual(["main"]);
    expect(nock.pendingMocks()).toEqual([]);
  });
});

describe("fix: the tests run on the unchanged branch first", () => {
  const SUM = { fix: { test_command: "node sum.test.js", timeout: "30s" } };
  /** A refactor that leaves the bug (and the failing sum test) alone. */
  const REFACTOR = {
    path: "src/math.js",
    search: "return a - b;",
    replace: "const result = a - b;\n  return result;",
  };

  it("tests already failing and still failing: no repair round, a bg:unverified PR that says they failed before", async () => {
    const { task } = await approvedFix(bed.store);
    const api = nockReads();
    const sink: { pr?: Record<string, unknown>; labels?: string[] } = {};
    const comment: { body?: string } = {};
    nockNewPr(api, sink);
    nockIssueComment(api, comment);
    const { outcome, llm } = await runFix(bed, task, { config: SUM, replies: [edits([REFACTOR])] });
    expect(outcome).toMatchObject({ status: "done", result: { pr: 34 } });
    // The one call is the edit: no repair round was spent on failures that were already there.
    expect(llm.calls).toHaveLength(1);
    expect(bed.fx.branchFile("bg/fix-12", "src/math.js")).toContain("const result = a - b;");
    expect(sink.labels).toEqual(["bg:fix", "bg:unverified"]);
    const body = String(sink.pr!.body);
    expect(body).toContain("Not verified: the tests were already failing before this change.");
    expect(body).toContain(
      "On the unchanged `main` branch, `node sum.test.js` failed with exit code 1; with this change it failed with exit code 1.",
    );
    expect(body).toContain("It failed before and after");
    expect(body).toContain("End of the test output before this change");
    expect(body).toContain("End of the test output with this change");
    expect(body).toContain("AssertionError");
    expect(body).not.toContain("✅");
    expect(comment.body).toContain("opened pull request #34");
    expect(comment.body).toContain("the tests were already failing before this change");
    expect(await bed.store.proposals.latest(REPO, "pr:34", "merge")).toMatchObject({
      payload: { verified: false },
    });
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("tests failing before and passing with the change: a verified PR that says they did not pass before", async () => {
    const { task } = await approvedFix(bed.store);
    const api = nockReads();
    const sink: { pr?: Record<string, unknown>; labels?: string[] } = {};
    const comment: { body?: string } = {};
    nockNewPr(api, sink);
    nockIssueComment(api, comment);
    const { outcome, llm } = await runFix(bed, task, { config: SUM, replies: [proven()] });
    expect(outcome).toMatchObject({ status: "done", result: { verification: "passed" } });
    expect(llm.calls).toHaveLength(1);
    expect(sink.labels).toEqual(["bg:fix"]);
    const body = String(sink.pr!.body);
    expect(body).toContain("`node sum.test.js` passed");
    expect(body).toContain(
      "It did not pass on the unchanged `main` branch before this change (it failed with exit code 1).",
    );
    expect(comment.body).toContain("did not pass on the unchanged `main` branch");
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a test command that already timed out before the change: said so, both runs killed, PR unverified", async () => {
    const pidFile = join(bed.fx.root, "hang.pid");
    const hang = `node -e "require('fs').appendFileSync('${pidFile}', require('fs').readlinkSync('/proc/self') + '\\n'); setInterval(() => {}, 1000)"`;
    const { task } = await approvedFix(bed.store);
    const api = nockReads();
    const sink: { pr?: Record<string, unknown>; labels?: string[] } = {};
    nockNewPr(api, sink);
    nockIssueComment(api, {});
    const { outcome, llm } = await runFix(bed, task, {
      config: { fix: { test_command: hang, timeout: "1s" } },
      replies: [edits([GOOD_EDIT])],
    });
    expect(outcome.status).toBe("done");
    expect(llm.calls).toHaveLength(1);
    expect(sink.labels).toEqual(["bg:fix", "bg:unverified"]);
    const body = String(sink.pr!.body);
    expect(body).toContain("Not verified: the test command already timed out before this change.");
    expect(body).toContain("timed out after 1s and was killed; with this change it timed out");
    const pids = readFileSync(pidFile, "utf8").trim().split("\n").map(Number);
    expect(pids).toHaveLength(2);
    for (const pid of pids) expect(isRunning(pid)).toBe(false);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("with fix.test_baseline: false the tests run only after the change, and a failure gets the repair round", async () => {
    const { task } = await approvedFix(bed.store);
    const api = nockReads();
    const sink: { pr?: Record<string, unknown>; labels?: string[] } = {};
    nockNewPr(api, sink);
    nockIssueComment(api, {});
    const { outcome, llm } = await runFix(bed, task, {
      config: { fix: { test_command: "node sum.test.js", test_baseline: false } },
      replies: [
        edits([REFACTOR]),
        proven([{ path: "src/math.js", search: "a - b;", replace: "a + b;" }]),
      ],
    });
    expect(outcome).toMatchObject({ status: "done", result: { verification: "passed" } });
    expect(llm.calls).toHaveLength(2);
    expect(String(llm.calls[1]!.messages.at(-1)!.content)).toContain("AssertionError");
    expect(bed.fx.branchFile("bg/fix-12", "src/math.js")).toContain("const result = a + b;");
    expect(sink.labels).toEqual(["bg:fix"]);
    const body = String(sink.pr!.body);
    expect(body).toContain("`node sum.test.js` passed after one repair round");
    expect(body).not.toContain("before this change");
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("refuses an edit that would write through a link the run on the unchanged branch created", async () => {
    const outside = join(bed.fx.root, "outside.txt");
    const { task } = await approvedFix(bed.store, { affectedFiles: ["src/math.js", "src/new.js"] });
    const api = nockReads();
    const comment: { body?: string } = {};
    nockIssueComment(api, comment);
    const { outcome } = await runFix(bed, task, {
      config: { fix: { test_command: `ln -s '${outside}' src/new.js; node test.js` } },
      replies: [edits([GOOD_EDIT, { path: "src/new.js", content: "module.exports = 3;\n" }])],
    });
    expect(outcome).toMatchObject({ status: "failed", permanent: true });
    expect(comment.body).toContain("src/new.js is a symbolic link");
    expect(existsSync(outside)).toBe(false);
    expect(bed.fx.branches()).toEqual(["main"]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("dry-run reports a fix whose tests were failing before, and pushes nothing", async () => {
    const { task } = await approvedFix(bed.store);
    nockReads();
    const { outcome, llm } = await runFix(bed, task, {
      config: SUM,
      replies: [edits([REFACTOR])],
      dryRun: true,
    });
    expect(outcome).toMatchObject({
      status: "done",
      result: { dryRun: true, verification: "failing-before" },
    });
    expect(llm.calls).toHaveLength(1);
    expect(bed.fx.branches()).toEqual(["main"]);
    expect(await bed.store.runs.count()).toBe(0);
    expect(nock.pendingMocks()).toEqual([]);
  });
});

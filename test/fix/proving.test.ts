import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import nock from "nock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createFixProcessor } from "../../src/processors/fix/index.js";
import { testOneCommand, testOneTemplate } from "../../src/processors/fix/proving-test.js";
import type { Store } from "../../src/store/index.js";
import type { Task } from "../../src/core/domain.js";
import type { TaskOutcome } from "../../src/core/worker-contract.js";
import { testCtx } from "../helpers/context.js";
import { fakeLlm } from "../helpers/fake-llm.js";
import { memoryStore } from "../helpers/store.js";
import type { RepoFixture } from "./fixture.js";
import {
  GOOD_EDIT,
  REPO,
  approvedFix,
  edits,
  makeRepo,
  nockIssueComment,
  nockNewPr,
  nockReads,
  proven,
} from "./fixture.js";

const TESTED = { fix: { test_command: "node test.js", timeout: "30s" } };

let fx: RepoFixture;
let store: Store;

beforeEach(async () => {
  fx = makeRepo();
  store = await memoryStore();
});

afterEach(() => {
  fx.cleanup();
});

async function runFix(
  task: Task,
  replies: Parameters<typeof fakeLlm>[0],
  config: unknown = TESTED,
): Promise<{ outcome: TaskOutcome; llm: ReturnType<typeof fakeLlm> }> {
  const llm = fakeLlm(replies);
  const ctx = await testCtx(store, REPO, { config, llm, workspace: fx.checkout, dryRun: false });
  const processor = createFixProcessor({ tmpRoot: fx.tmp, remote: async () => ({ url: fx.bare }) });
  const outcomes = await processor.process(ctx, [task]);
  return { outcome: outcomes.get(task.id)!, llm };
}

function expectPr(): { sink: { pr?: Record<string, unknown>; labels?: string[] } } {
  const api = nockReads();
  const sink: { pr?: Record<string, unknown>; labels?: string[] } = {};
  nockNewPr(api, sink);
  nockIssueComment(api, {});
  return { sink };
}

describe("fix: a proving test shows the problem, then the fix", () => {
  it("the PR shows the proving test failing on the unchanged branch and passing with the change", async () => {
    const { task } = await approvedFix(store);
    const { sink } = expectPr();
    const { outcome } = await runFix(task, [proven()]);
    expect(outcome).toMatchObject({ status: "done", result: { proof: "proven" } });
    expect(sink.labels).toEqual(["bg:fix"]);
    const body = String(sink.pr!.body);
    expect(body).toContain("#### Proving test");
    expect(body).toContain(
      "**Without this change (the unchanged branch):** `node --test 'sum.test.js'` failed with exit code 1 (exit code 1).",
    );
    expect(body).toContain(
      "**With this change:** `node --test 'sum.test.js'` passed (exit code 0).",
    );
    // The tail of each run's output, fenced.
    expect(body).toMatch(/```text\n[\s\S]*# fail 1[\s\S]*```/);
    expect(body).toMatch(/```text\n[\s\S]*# pass 1[\s\S]*```/);
    expect(body.indexOf("Without this change")).toBeLessThan(body.indexOf("With this change"));
    expect(await store.proposals.latest(REPO, "pr:34", "merge")).toMatchObject({
      payload: { verified: true },
    });
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a test the model writes with its edits is run without the fix (only the test added) and with it", async () => {
    const { task } = await approvedFix(store);
    const { sink } = expectPr();
    const newTest = {
      path: "test/add.test.js",
      content:
        'const assert = require("assert");\nconst { add } = require("../src/math.js");\nassert.strictEqual(add(1, 2), 3);\n',
    };
    const { outcome } = await runFix(task, [
      edits([GOOD_EDIT, newTest], "add() adds; a test shows it.", {
        file: "test/add.test.js",
        name: "",
      }),
    ]);
    expect(outcome).toMatchObject({ status: "done", result: { proof: "proven" } });
    expect(fx.branchFile("bg/fix-12", "test/add.test.js")).toContain("add(1, 2), 3");
    expect(sink.labels).toEqual(["bg:fix"]);
    expect(String(sink.pr!.body)).toContain(
      "`node --test 'test/add.test.js'` failed with exit code 1",
    );
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("the plan's own proving test is used when the model names none", async () => {
    const p = await store.proposals.propose({
      repo: REPO,
      kind: "fix",
      target: "issue:12",
      contentHash: "h1",
      payload: {
        key: "octo/demo#12",
        plan: "Make add() add.",
        affectedFiles: ["src/math.js"],
        provingTest: { file: "sum.test.js" },
      },
    });
    await store.proposals.decide(p.id, "approved", "alice");
    await store.tasks.enqueue({
      repo: REPO,
      type: "fix",
      source: "issue:12",
      payload: { key: "octo/demo#12", proposalId: p.id },
    });
    const [task] = await store.tasks.claim({
      owner: "w",
      leaseMs: 60_000,
      limit: 1,
      types: ["fix"],
    });
    const { sink } = expectPr();
    const { outcome, llm } = await runFix(task!, [edits([GOOD_EDIT])]);
    expect(outcome).toMatchObject({ status: "done", result: { proof: "proven" } });
    expect(String(llm.calls[0]!.messages.at(-1)!.content)).toContain(
      "The plan names `sum.test.js`",
    );
    expect(sink.labels).toEqual(["bg:fix"]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a test that passes before the edit does not show the problem: not proven, bg:unverified", async () => {
    const { task } = await approvedFix(store);
    const { sink } = expectPr();
    const { outcome, llm } = await runFix(task, [
      edits([GOOD_EDIT], "add() adds.", { file: "test.js", name: "" }),
    ]);
    expect(outcome).toMatchObject({ status: "done", result: { proof: "not-proven" } });
    // No repair round for a test that does not show the problem.
    expect(llm.calls).toHaveLength(1);
    expect(sink.labels).toEqual(["bg:fix", "bg:unverified"]);
    const body = String(sink.pr!.body);
    expect(body).toContain("⚠️ **Not proven:** the test `test.js`");
    expect(body).toContain("it passes without the change, so it does not show the problem");
    expect(body).toContain("`node --test 'test.js'` passed (exit code 0)");
    expect(await store.proposals.latest(REPO, "pr:34", "merge")).toMatchObject({
      payload: { verified: false },
    });
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("no test at all: the PR says plainly nothing shows the fix works, and carries bg:unverified", async () => {
    const { task } = await approvedFix(store);
    const { sink } = expectPr();
    const { outcome } = await runFix(task, [edits([GOOD_EDIT])]);
    expect(outcome).toMatchObject({ status: "done", result: { proof: "none" } });
    expect(sink.labels).toEqual(["bg:fix", "bg:unverified"]);
    const body = String(sink.pr!.body);
    expect(body).toContain("`node test.js` passed");
    expect(body).toContain("⚠️ **Not proven: no test shows the problem.**");
    expect(body).toContain("Neither the approved plan nor the model named a test");
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a proving test still failing with the change gets the repair round, then proves it", async () => {
    const { task } = await approvedFix(store);
    const { sink } = expectPr();
    const { outcome, llm } = await runFix(task, [
      // Passes node test.js (add(2, 0) is 2) but not sum.test.js.
      edits(
        [{ path: "src/math.js", search: "return a - b;", replace: "return a - b + b - b;" }],
        "x",
        { file: "sum.test.js", name: "" },
      ),
      proven([{ path: "src/math.js", search: "return a - b + b - b;", replace: "return a + b;" }]),
    ]);
    expect(outcome).toMatchObject({ status: "done", result: { proof: "proven" } });
    expect(llm.calls).toHaveLength(2);
    expect(String(llm.calls[1]!.messages.at(-1)!.content)).toContain("node --test 'sum.test.js'");
    expect(fx.branchFile("bg/fix-12", "src/math.js")).toContain("return a + b;");
    expect(sink.labels).toEqual(["bg:fix"]);
    expect(String(sink.pr!.body)).toContain("passed after one repair round");
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("fix.test_one is used, with the file and the name shell-quoted", async () => {
    const { task } = await approvedFix(store);
    const { sink } = expectPr();
    const { outcome } = await runFix(
      task,
      [edits([GOOD_EDIT], "x", { file: "sum.test.js", name: "it's the sum" })],
      { fix: { test_command: "node test.js", test_one: "echo {name}; node {file}" } },
    );
    expect(outcome).toMatchObject({ status: "done", result: { proof: "proven" } });
    const body = String(sink.pr!.body);
    expect(body).toContain("echo 'it'\\''s the sum'; node 'sum.test.js'");
    expect(nock.pendingMocks()).toEqual([]);
  });
});

describe("fix: how one test is run, by default", () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
  const repoWith = (files: Record<string, string>): string => {
    const d = mkdtempSync(join(tmpdir(), "bg-testone-"));
    dirs.push(d);
    for (const [f, c] of Object.entries(files)) writeFileSync(join(d, f), c);
    return d;
  };
  const cmd = async (files: Record<string, string>, name?: string): Promise<string | null> => {
    const t = await testOneTemplate(repoWith(files), null);
    return t ? testOneCommand(t, { file: "pkg/a_test.x", ...(name ? { name } : {}) }) : null;
  };

  it("detects vitest, jest, node --test, pytest, go test and cargo", async () => {
    expect(await cmd({ "package.json": '{"devDependencies":{"vitest":"4"}}' }, "adds")).toBe(
      "npx vitest run 'pkg/a_test.x' -t 'adds'",
    );
    expect(await cmd({ "package.json": '{"devDependencies":{"jest":"29"}}' })).toBe(
      "npx jest 'pkg/a_test.x'",
    );
    expect(await cmd({ "package.json": "{}" })).toBe("node --test 'pkg/a_test.x'");
    expect(await cmd({ "pyproject.toml": "" }, "test_add")).toBe(
      "python -m pytest 'pkg/a_test.x' -k 'test_add'",
    );
    expect(await cmd({ "go.mod": "module x" }, "TestAdd")).toBe("go test ./'pkg' -run 'TestAdd'");
    expect(await cmd({ "Cargo.toml": "" })).toBe("cargo test");
    expect(await cmd({ "README.md": "" })).toBeNull();
  });
});

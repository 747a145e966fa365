import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import nock from "nock";
import { afterEach, describe, expect, it } from "vitest";
import { testOneCommand, testOneTemplate } from "../../src/processors/fix/proving-test.js";
import {
  GOOD_EDIT,
  REPO,
  approvedFix,
  edits,
  nockIssueComment,
  nockNewPr,
  nockReads,
  proven,
} from "./fixture.js";
import { fixTestBed, runFix } from "./harness.js";

const bed = fixTestBed();

function expectPr(): { sink: { pr?: Record<string, unknown>; labels?: string[] } } {
  const api = nockReads();
  const sink: { pr?: Record<string, unknown>; labels?: string[] } = {};
  nockNewPr(api, sink);
  nockIssueComment(api, {});
  return { sink };
}

describe("fix: a proving test shows the problem, then the fix", () => {
  it("the PR shows the proving test failing on the unchanged branch and passing with the change", async () => {
    const { task } = await approvedFix(bed.store);
    const { sink } = expectPr();
    const { outcome } = await runFix(bed, task, { replies: [proven()] });
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
    expect(await bed.store.proposals.latest(REPO, "pr:34", "merge")).toMatchObject({
      payload: { verified: true },
    });
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a test the model writes with its edits is run without the fix (only the test added) and with it", async () => {
    const { task } = await approvedFix(bed.store);
    const { sink } = expectPr();
    const newTest = {
      path: "test/add.test.js",
      content:
        'const assert = require("assert");\nconst { add } = require("../src/math.js");\nassert.strictEqual(add(1, 2), 3);\n',
    };
    const { outcome } = await runFix(bed, task, {
      replies: [
        edits([GOOD_EDIT, newTest], "add() adds; a test shows it.", {
          file: "test/add.test.js",
          name: "",
        }),
      ],
    });
    expect(outcome).toMatchObject({ status: "done", result: { proof: "proven" } });
    expect(bed.fx.branchFile("bg/fix-12", "test/add.test.js")).toContain("add(1, 2), 3");
    expect(sink.labels).toEqual(["bg:fix"]);
    expect(String(sink.pr!.body)).toContain(
      "`node --test 'test/add.test.js'` failed with exit code 1",
    );
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("the plan's own proving test is used when the model names none", async () => {
    const { task } = await approvedFix(bed.store, {
      plan: "Make add() add.",
      provingTest: { file: "sum.test.js" },
    });
    const { sink } = expectPr();
    const { outcome, llm } = await runFix(bed, task, { replies: [edits([GOOD_EDIT])] });
    expect(outcome).toMatchObject({ status: "done", result: { proof: "proven" } });
    expect(String(llm.calls[0]!.messages.at(-1)!.content)).toContain(
      "The plan names `sum.test.js`",
    );
    expect(sink.labels).toEqual(["bg:fix"]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a test that passes before the edit does not show the problem: not proven, bg:unverified", async () => {
    const { task } = await approvedFix(bed.store);
    const { sink } = expectPr();
    const { outcome, llm } = await runFix(bed, task, {
      replies: [edits([GOOD_EDIT], "add() adds.", { file: "test.js", name: "" })],
    });
    expect(outcome).toMatchObject({ status: "done", result: { proof: "not-proven" } });
    // No repair round for a test that does not show the problem.
    expect(llm.calls).toHaveLength(1);
    expect(sink.labels).toEqual(["bg:fix", "bg:unverified"]);
    const body = String(sink.pr!.body);
    expect(body).toContain("⚠️ **Not proven:** the test `test.js`");
    expect(body).toContain("it passes without the change, so it does not show the problem");
    expect(body).toContain("`node --test 'test.js'` passed (exit code 0)");
    expect(await bed.store.proposals.latest(REPO, "pr:34", "merge")).toMatchObject({
      payload: { verified: false },
    });
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("no test at all: the PR says plainly nothing shows the fix works, and carries bg:unverified", async () => {
    const { task } = await approvedFix(bed.store);
    const { sink } = expectPr();
    const { outcome } = await runFix(bed, task, { replies: [edits([GOOD_EDIT])] });
    expect(outcome).toMatchObject({ status: "done", result: { proof: "none" } });
    expect(sink.labels).toEqual(["bg:fix", "bg:unverified"]);
    const body = String(sink.pr!.body);
    expect(body).toContain("`node test.js` passed");
    expect(body).toContain("⚠️ **Not proven: no test shows the problem.**");
    expect(body).toContain("Neither the approved plan nor the model named a test");
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a proving test still failing with the change gets the repair round, then proves it", async () => {
    const { task } = await approvedFix(bed.store);
    const { sink } = expectPr();
    const { outcome, llm } = await runFix(bed, task, {
      replies: [
        // Passes node test.js (add(2, 0) is 2) but not sum.test.js.
        edits(
          [{ path: "src/math.js", search: "return a - b;", replace: "return a - b + b - b;" }],
          "x",
          { file: "sum.test.js", name: "" },
        ),
        proven([
          { path: "src/math.js", search: "return a - b + b - b;", replace: "return a + b;" },
        ]),
      ],
    });
    expect(outcome).toMatchObject({ status: "done", result: { proof: "proven" } });
    expect(llm.calls).toHaveLength(2);
    expect(String(llm.calls[1]!.messages.at(-1)!.content)).toContain("node --test 'sum.test.js'");
    expect(bed.fx.branchFile("bg/fix-12", "src/math.js")).toContain("return a + b;");
    expect(sink.labels).toEqual(["bg:fix"]);
    expect(String(sink.pr!.body)).toContain("passed after one repair round");
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("fix.test_one is used, with the file and the name shell-quoted", async () => {
    const { task } = await approvedFix(bed.store);
    const { sink } = expectPr();
    const { outcome } = await runFix(bed, task, {
      replies: [edits([GOOD_EDIT], "x", { file: "sum.test.js", name: "it's the sum" })],
      config: { fix: { test_command: "node test.js", test_one: "echo {name}; node {file}" } },
    });
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

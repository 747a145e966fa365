import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { EditPolicy } from "../../src/processors/fix/edits.js";
import { parseEditsAnswer, planEdits } from "../../src/processors/fix/edits.js";
import { checkPath, normalizeRepoPath, planMatcher } from "../../src/processors/fix/safe-path.js";

let root: string;
let outside: string;

beforeEach(() => {
  const base = mkdtempSync(join(tmpdir(), "bg-edits-"));
  root = join(base, "repo");
  outside = join(base, "outside");
  mkdirSync(join(root, "src"), { recursive: true });
  mkdirSync(join(root, ".git"));
  mkdirSync(outside);
  writeFileSync(join(root, "src/a.ts"), "const x = 1;\nconst y = 1;\n");
  writeFileSync(join(outside, "secret.txt"), "secret\n");
  symlinkSync(outside, join(root, "src/escape"));
  symlinkSync(join(root, "src"), join(root, "alias"));
  symlinkSync(join(outside, "secret.txt"), join(root, "src/link.txt"));
});

afterEach(() => rmSync(join(root, ".."), { recursive: true, force: true }));

const policy = (o: Partial<EditPolicy> = {}): EditPolicy => ({
  root,
  inPlan: planMatcher(["src/a.ts", "src/new.ts"]),
  allowOutsidePlan: false,
  maxFiles: 10,
  ...o,
});

describe("paths an edit may write", () => {
  it.each([
    ["../../etc/passwd", "leaves the repository"],
    ["src/../../x", "leaves the repository"],
    ["/etc/passwd", "absolute"],
    ["C:/Windows/x", "absolute"],
    ["~/.ssh/id_rsa", "absolute"],
    [".git/config", ".git"],
    ["sub/.GIT/hooks/pre-commit", ".git"],
    [".github/workflows/ci.yml", "workflow"],
    ["src\\a.ts", "backslash"],
    ["src/a\u0000.ts", "control"],
    ["", "empty"],
  ])("refuses %j", (path, why) => {
    const r = normalizeRepoPath(path);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toContain(why);
  });

  it("normalizes harmless spellings", () => {
    expect(normalizeRepoPath("./src//a.ts")).toEqual({ ok: true, path: "src/a.ts" });
  });

  it("refuses symbolic links that lead outside the repository, and writing through a link", async () => {
    expect(await checkPath(root, "src/escape/secret.txt")).toMatchObject({
      ok: false,
      reason: expect.stringContaining("outside the repository"),
    });
    expect(await checkPath(root, "src/link.txt")).toMatchObject({
      ok: false,
      reason: expect.stringContaining("symbolic link"),
    });
    expect(await checkPath(root, "alias/a.ts")).toEqual({
      ok: true,
      path: "src/a.ts",
      requested: "alias/a.ts",
    });
    expect(await checkPath(root, "src/brand/new/file.ts")).toEqual({
      ok: true,
      path: "src/brand/new/file.ts",
    });
  });

  it("matches plan entries as files, folders and globs", () => {
    const m = planMatcher(["src/a.ts", "lib/", "test/**/*.test.ts", "../x"]);
    expect(["src/a.ts", "lib/b.ts", "test/u/v.test.ts"].map(m)).toEqual([true, true, true]);
    expect(["src/b.ts", "x", "test/u/v.ts"].map(m)).toEqual([false, false, false]);
  });
});

describe("the model's answer", () => {
  it("accepts the JSON format, also inside a ``` fence", () => {
    const json = JSON.stringify({ summary: "s", edits: [{ path: "a", content: "b" }] });
    expect(parseEditsAnswer(json).ok).toBe(true);
    expect(parseEditsAnswer("```json\n" + json + "\n```").ok).toBe(true);
  });

  it.each([
    ["", "empty"],
    ["here you go", "not JSON"],
    [JSON.stringify({ edits: [] }), "at least one edit"],
    [
      JSON.stringify({ edits: [{ path: "a", search: "", replace: "b" }] }),
      "does not match the format",
    ],
    [
      JSON.stringify({ edits: [{ path: "a", search: "x", replace: "y", content: "z" }] }),
      "does not match the format",
    ],
  ])("rejects %j", (text, why) => {
    const r = parseEditsAnswer(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toContain(why);
  });
});

describe("planning edits", () => {
  const answer = (edits: unknown[]) => {
    const r = parseEditsAnswer(JSON.stringify({ edits }));
    if (!r.ok) throw new Error(r.error);
    return r.answer;
  };

  it("applies search/replace edits in order and creates new files named in the plan", async () => {
    const r = await planEdits(
      answer([
        { path: "src/a.ts", search: "const x = 1;", replace: "const x = 2;" },
        { path: "src/a.ts", search: "const x = 2;\nconst y", replace: "const x = 3;\nconst y" },
        { path: "src/new.ts", content: "export {};\n" },
      ]),
      policy(),
    );
    expect(r).toEqual({
      ok: true,
      changes: [
        {
          path: "src/a.ts",
          before: "const x = 1;\nconst y = 1;\n",
          after: "const x = 3;\nconst y = 1;\n",
        },
        { path: "src/new.ts", before: null, after: "export {};\n" },
      ],
    });
  });

  it("reports ambiguous and missing search text as conflicts (retryable)", async () => {
    expect(
      await planEdits(answer([{ path: "src/a.ts", search: " = 1;", replace: " = 2;" }]), policy()),
    ).toMatchObject({
      ok: false,
      kind: "conflict",
      error: expect.stringContaining("occurs 2 times"),
    });
    expect(
      await planEdits(answer([{ path: "src/a.ts", search: "nope", replace: "x" }]), policy()),
    ).toMatchObject({
      ok: false,
      kind: "conflict",
      error: expect.stringContaining("not found"),
    });
    expect(
      await planEdits(answer([{ path: "src/new.ts", search: "a", replace: "b" }]), policy()),
    ).toMatchObject({
      kind: "conflict",
      error: expect.stringContaining("does not exist"),
    });
  });

  it("refuses files outside the plan unless allowed, and more files than fix.max_files", async () => {
    const other = answer([{ path: "src/other.ts", content: "x" }]);
    expect(await planEdits(other, policy())).toMatchObject({ ok: false, kind: "refused" });
    expect(await planEdits(other, policy({ allowOutsidePlan: true }))).toMatchObject({ ok: true });
    const two = answer([
      { path: "src/a.ts", content: "a" },
      { path: "src/new.ts", content: "b" },
    ]);
    expect(await planEdits(two, policy({ maxFiles: 1 }))).toMatchObject({
      ok: false,
      error: expect.stringContaining("fix.max_files"),
    });
  });

  it("refuses paths outside the repository even when outside-plan edits are allowed", async () => {
    for (const path of [
      "../outside/secret.txt",
      "src/escape/secret.txt",
      ".git/config",
      "src/link.txt",
    ]) {
      const r = await planEdits(
        answer([{ path, content: "pwned" }]),
        policy({ allowOutsidePlan: true }),
      );
      expect(r).toMatchObject({ ok: false, kind: "refused" });
    }
  });
});

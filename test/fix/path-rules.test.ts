import { execFileSync } from "node:child_process";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { EditPolicy } from "../../src/processors/fix/edits.js";
import { parseEditsAnswer, planEdits, writeChanges } from "../../src/processors/fix/edits.js";
import { checkPath, planMatcher } from "../../src/processors/fix/safe-path.js";

// Real symbolic links in a temporary git repository. Each case injects one link (or chain) and
// asserts the edit is refused and nothing was written where the link points (lost: 0 files
// outside the rules written; done twice: n/a).

let base: string;
let root: string;
let outside: string;

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), "bg-path-rules-"));
  root = join(base, "repo");
  outside = join(base, "outside");
  mkdirSync(join(root, "src"), { recursive: true });
  mkdirSync(join(root, ".github/workflows"), { recursive: true });
  mkdirSync(join(root, "docs"));
  mkdirSync(outside);
  execFileSync("git", ["init", "--quiet", root]);
  writeFileSync(join(root, "src/a.ts"), "export const a = 1;\n");
  writeFileSync(join(root, ".github/workflows/ci.yml"), "on: push\n");
  writeFileSync(join(outside, "secret.txt"), "secret\n");
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

const link = (target: string, at: string): void => symlinkSync(target, join(root, at));

const answer = (edits: unknown[]) => {
  const r = parseEditsAnswer(JSON.stringify({ edits }));
  if (!r.ok) throw new Error(r.error);
  return r.answer;
};

const policy = (plan: string[], o: Partial<EditPolicy> = {}): EditPolicy => ({
  root,
  inPlan: planMatcher(plan),
  allowOutsidePlan: false,
  maxFiles: 10,
  ...o,
});

/** Plans (with edits outside the plan allowed, so only the path rules decide) and writes. */
const write = async (path: string, content = "x\n", plan: string[] = []) => {
  const planned = await planEdits(
    answer([{ path, content }]),
    policy(plan, { allowOutsidePlan: plan.length === 0 }),
  );
  if (planned.ok) {
    const refused = await writeChanges(root, planned.changes);
    return refused === undefined ? planned : { ok: false as const, error: refused };
  }
  return planned;
};

describe("path rules hold on the resolved path", () => {
  it("injects a directory link to .github/workflows: refused, no workflow written", async () => {
    link(".github/workflows", "ci");
    const r = await write("ci/deploy.yml", "on: push\njobs: {}\n");
    expect(r).toMatchObject({ ok: false, error: expect.stringContaining("workflow files") });
    expect(existsSync(join(root, ".github/workflows/deploy.yml"))).toBe(false);
  });

  it("injects a link to .github (then workflows/ under it): refused", async () => {
    link(".github", "gh");
    expect(await write("gh/workflows/x.yml")).toMatchObject({
      ok: false,
      error: expect.stringContaining("workflow files"),
    });
    expect(existsSync(join(root, ".github/workflows/x.yml"))).toBe(false);
  });

  it("injects .github/workflows as a link to a plain folder: writing the folder is refused too", async () => {
    rmSync(join(root, ".github/workflows"), { recursive: true });
    mkdirSync(join(root, "wf"));
    symlinkSync("../wf", join(root, ".github/workflows"));
    expect(await write("wf/ci.yml")).toMatchObject({
      ok: false,
      error: expect.stringContaining("workflow files"),
    });
    expect(existsSync(join(root, "wf/ci.yml"))).toBe(false);
  });

  it("injects a file link to .git/config: refused, .git/config unchanged", async () => {
    const before = readFileSync(join(root, ".git/config"), "utf8");
    link(".git/config", "settings.ini");
    expect(await write("settings.ini", "[core]\n\thooksPath = /tmp\n")).toMatchObject({
      ok: false,
      error: expect.stringContaining("symbolic link"),
    });
    link(".git", "g");
    expect(await write("g/hooks/pre-commit", "#!/bin/sh\n")).toMatchObject({
      ok: false,
      error: expect.stringContaining(".git"),
    });
    expect(readFileSync(join(root, ".git/config"), "utf8")).toBe(before);
    expect(existsSync(join(root, ".git/hooks/pre-commit"))).toBe(false);
  });

  it.each([
    ["an absolute link", () => link(outside, "out"), "out/secret.txt"],
    ["a link to ..", () => link("..", "up"), "up/outside/secret.txt"],
    ["a link to /etc", () => link("/etc", "etc"), "etc/bg-agent-test"],
  ])("injects %s: refused, nothing written outside", async (_what, make, path) => {
    make();
    expect(await write(path, "pwned\n")).toMatchObject({
      ok: false,
      error: expect.stringContaining("outside the repository"),
    });
    expect(readFileSync(join(outside, "secret.txt"), "utf8")).toBe("secret\n");
    expect(existsSync("/etc/bg-agent-test")).toBe(false);
  });

  it("injects a link whose target is outside for a new file in new folders: refused, nothing created", async () => {
    link(outside, "out");
    expect(await write("out/new/deep/file.ts")).toMatchObject({
      ok: false,
      error: expect.stringContaining("outside the repository"),
    });
    expect(existsSync(join(outside, "new"))).toBe(false);
  });

  it("injects a nested chain of links ending in .github/workflows: refused", async () => {
    mkdirSync(join(root, "c"));
    link("../.github", "c/d");
    link("c/d", "b");
    link("b", "a");
    expect(await write("a/workflows/evil.yml")).toMatchObject({
      ok: false,
      error: expect.stringContaining("workflow files"),
    });
    expect(existsSync(join(root, ".github/workflows/evil.yml"))).toBe(false);
  });

  it("a chain of links that stays in the repository writes the real file, under its real name", async () => {
    link("src", "b2");
    link("b2", "a2");
    expect(await checkPath(root, "a2/a.ts")).toEqual({
      ok: true,
      path: "src/a.ts",
      requested: "a2/a.ts",
    });
    const r = await write("a2/a.ts", "export const a = 2;\n");
    expect(r).toMatchObject({ ok: true, changes: [{ path: "src/a.ts" }] });
    expect(readFileSync(join(root, "src/a.ts"), "utf8")).toBe("export const a = 2;\n");
    expect(lstatSync(join(root, "a2")).isSymbolicLink()).toBe(true);
  });

  it("injects a dangling link on the way: refused", async () => {
    link("nowhere", "gone");
    expect(await write("gone/x.ts")).toMatchObject({
      ok: false,
      error: expect.stringContaining("dangles"),
    });
  });

  it("injects a file the plan names that is itself a link (to a file in the repository): refused", async () => {
    writeFileSync(join(root, "README.md"), "# readme\n");
    link("../README.md", "src/readme-link.md");
    const r = await write("src/readme-link.md", "changed\n", ["src/readme-link.md"]);
    expect(r).toMatchObject({ ok: false, error: expect.stringContaining("symbolic link") });
    expect(readFileSync(join(root, "README.md"), "utf8")).toBe("# readme\n");
  });

  it("injects a link from a planned folder to an unplanned one: the plan rule holds on the real path", async () => {
    link("../src", "docs/alias");
    const r = await write("docs/alias/a.ts", "export const a = 3;\n", ["docs/"]);
    expect(r).toMatchObject({
      ok: false,
      error: expect.stringContaining('resolves (through a symbolic link) to "src/a.ts"'),
    });
    expect(readFileSync(join(root, "src/a.ts"), "utf8")).toBe("export const a = 1;\n");
  });

  it("two names of one file make one change (no edit silently overwrites another)", async () => {
    link("src", "alias");
    const r = await planEdits(
      answer([
        { path: "src/a.ts", search: "= 1", replace: "= 2" },
        { path: "alias/a.ts", search: "= 2", replace: "= 3" },
      ]),
      policy(["src/a.ts", "alias/a.ts"]),
    );
    expect(r).toEqual({
      ok: true,
      changes: [
        { path: "src/a.ts", before: "export const a = 1;\n", after: "export const a = 3;\n" },
      ],
    });
  });

  it.each([
    [".GIT/config", ".git"],
    ["src/.Git/hooks/x", ".git"],
    [".Github/Workflows/x.yml", "workflow"],
    [".github/WORKFLOWS/x.yml", "workflow"],
    ["src/../.git/config", "leaves the repository"],
    ["src/../../outside/secret.txt", "leaves the repository"],
    ["/etc/passwd", "absolute"],
    [`${"/"}${"tmp"}/x`, "absolute"],
    ["src/a\u0000.ts", "control characters"],
  ])("refuses %j", async (path, why) => {
    expect(await write(path)).toMatchObject({ ok: false, error: expect.stringContaining(why) });
  });

  it("injects a link swapped in after planning (a test run made it): the write is refused, outside unchanged", async () => {
    mkdirSync(join(root, "gen"));
    const planned = await planEdits(
      answer([{ path: "gen/secret.txt", content: "pwned\n" }]),
      policy(["gen/"]),
    );
    expect(planned.ok).toBe(true);
    rmSync(join(root, "gen"), { recursive: true });
    link(outside, "gen");
    const refused = await writeChanges(root, planned.ok ? planned.changes : []);
    expect(refused).toContain("outside the repository");
    expect(readFileSync(join(outside, "secret.txt"), "utf8")).toBe("secret\n");
  });
});

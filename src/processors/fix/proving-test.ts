import { readFile } from "node:fs/promises";
import { join, posix } from "node:path";
import { z } from "zod";
import type { ProvingTest } from "./proving-test-schema.js";
import { parseDuration } from "../../util/duration.js";
import type { FixRun } from "./fix-run.js";
import type { CommandResult } from "./run-command.js";
import { runCommand, tail, testEnvironment } from "./run-command.js";
import { normalizeRepoPath } from "./safe-path.js";
import { outcomeText, passed } from "./test-run.js";
import { writeChanges } from "./edits.js";

export type { ProvingTest } from "./proving-test-schema.js";

/** One run of the proving test, as the pull request shows it. */
export interface ProofRun {
  command: string;
  passed: boolean;
  /** `passed`, `failed with exit code 1`, `timed out after 30s and was killed`. */
  outcome: string;
  exitCode: number | null;
  outputTail: string;
  /** The run itself (a repair round shows the model its output). */
  result: CommandResult;
}

export type Proof =
  /** Failed on the unchanged branch, passes with the change. */
  | { status: "proven"; test: ProvingTest; before: ProofRun; after: ProofRun }
  /** A test was named but it does not show the problem (passes before) or the fix (fails after). */
  | { status: "not-proven"; test: ProvingTest; why: string; before?: ProofRun; after?: ProofRun }
  /** No test to prove the fix with. */
  | { status: "none"; why: string };

/** Shell-quotes one word for `sh -c`. */
export const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** How to run one test: a template with `{file}`, `{dir}` and `{name}`, and one for no name. */
export interface TestOneTemplate {
  /** Where it came from: `fix.test_one` or what was detected (`vitest`, `pytest`...). */
  source: string;
  withName: string;
  withoutName: string;
}

const hasAny = (deps: Record<string, unknown>, names: readonly string[]): string | undefined =>
  names.find((n) => n in deps);

async function readText(root: string, path: string): Promise<string | null> {
  try {
    return await readFile(join(root, path), "utf8");
  } catch {
    return null;
  }
}

/**
 * The repository's way to run one test: `fix.test_one` when set; else detected from its files
 * (package.json's vitest, jest or mocha, else `node --test`; pytest for Python projects;
 * `go test` for go.mod; `cargo test` for Cargo.toml). null: nothing detected.
 */
export async function testOneTemplate(
  root: string,
  configured: string | null,
): Promise<TestOneTemplate | null> {
  if (configured) {
    return {
      source: "fix.test_one",
      withName: configured,
      withoutName: configured.replace(/\{name\}/g, "''"),
    };
  }
  const pkg = await readText(root, "package.json");
  if (pkg !== null) {
    const parsed = z
      .object({
        dependencies: z.record(z.string(), z.unknown()).optional(),
        devDependencies: z.record(z.string(), z.unknown()).optional(),
      })
      .safeParse(JSON.parse(pkg.trim() || "{}") as unknown);
    const deps = parsed.success
      ? { ...parsed.data.dependencies, ...parsed.data.devDependencies }
      : {};
    const runner = hasAny(deps, ["vitest", "jest", "mocha"]);
    if (runner === "vitest")
      return {
        source: "vitest",
        withName: "npx vitest run {file} -t {name}",
        withoutName: "npx vitest run {file}",
      };
    if (runner === "jest")
      return {
        source: "jest",
        withName: "npx jest {file} -t {name}",
        withoutName: "npx jest {file}",
      };
    if (runner === "mocha")
      return {
        source: "mocha",
        withName: "npx mocha {file} -g {name}",
        withoutName: "npx mocha {file}",
      };
    return {
      source: "node --test",
      withName: "node --test --test-name-pattern {name} {file}",
      withoutName: "node --test {file}",
    };
  }
  for (const f of ["pyproject.toml", "setup.py", "setup.cfg", "pytest.ini", "tox.ini"]) {
    if ((await readText(root, f)) !== null)
      return {
        source: "pytest",
        withName: "python -m pytest {file} -k {name}",
        withoutName: "python -m pytest {file}",
      };
  }
  if ((await readText(root, "go.mod")) !== null)
    return {
      source: "go test",
      withName: "go test ./{dir} -run {name}",
      withoutName: "go test ./{dir}",
    };
  if ((await readText(root, "Cargo.toml")) !== null)
    return { source: "cargo test", withName: "cargo test {name}", withoutName: "cargo test" };
  return null;
}

/** The command for one test: placeholders replaced with shell-quoted values. */
export function testOneCommand(t: TestOneTemplate, test: ProvingTest): string {
  const dir = posix.dirname(test.file);
  const template = test.name ? t.withName : t.withoutName;
  return template.replace(/\{(file|dir|name)\}/g, (_, k: string) => {
    if (k === "file") return shellQuote(test.file);
    // `./{dir}` for a file at the root: `./.`
    if (k === "dir") return dir === "." ? "." : shellQuote(dir);
    return shellQuote(test.name ?? "");
  });
}

const summarize = (command: string, r: CommandResult, timeoutMs: number): ProofRun => ({
  command,
  passed: passed(r),
  outcome: passed(r) ? "passed" : outcomeText(r, timeoutMs),
  exitCode: r.code,
  outputTail: tail(r.output, 30, 2_000),
  result: r,
});

/** What the proving test needs from the fix: where it runs and how. */
export interface Prover {
  test: ProvingTest;
  command: string;
  timeoutMs: number;
  /** Runs the test in the tree as it is. */
  run(): Promise<CommandResult>;
}

/**
 * How this fix's proving test runs, or why it cannot: no test named, a path that is not a
 * repository path, or no way to run one test (set `fix.test_one`).
 */
export async function proverFor(run: FixRun): Promise<Prover | { none: string }> {
  const test = run.provingTest;
  if (!test)
    return {
      none: "neither the approved plan nor the model named a test that shows the problem",
    };
  const n = normalizeRepoPath(test.file);
  if (!n.ok)
    return { none: `the proving test ${JSON.stringify(test.file)} is not usable: ${n.reason}` };
  const template = await testOneTemplate(run.ws.dir, run.cfg.test_one);
  if (!template)
    return {
      none: "bg-agent does not know how to run a single test in this repository (set fix.test_one)",
    };
  const named: ProvingTest = { ...test, file: n.path };
  const command = testOneCommand(template, named);
  const timeoutMs = parseDuration(run.cfg.timeout) ?? 600_000;
  const { ctx, ws } = run;
  return {
    test: named,
    command,
    timeoutMs,
    async run() {
      const r = await runCommand(command, {
        cwd: ws.dir,
        timeoutMs,
        env: testEnvironment(),
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      });
      if (ctx.signal?.aborted) throw new Error("the fix was given up at its outer deadline");
      return r;
    },
  };
}

/**
 * Runs the proving test without the fix, then with it. "Without" is the unchanged base commit
 * with only the test file as the fix has it (a test the model wrote is part of the check, not of
 * the fix); "with" is the committed change. The tree is back at the change afterwards.
 */
export async function runProof(run: FixRun, prover: Prover): Promise<Proof> {
  const { ws, log } = run;
  const { test } = prover;
  const head = (await ws.git(["rev-parse", "HEAD"])).trim();
  let content: string;
  try {
    content = await ws.git(["show", `${head}:${test.file}`]);
  } catch {
    return {
      status: "not-proven",
      test,
      why: `the proving test file ${test.file} is not in the change or the repository`,
    };
  }
  let before: ProofRun;
  try {
    await ws.git(["checkout", "--quiet", "--force", "--detach", ws.baseSha]);
    const unwritten = await writeChanges(ws.dir, [
      { path: test.file, before: null, after: content },
    ]);
    if (unwritten)
      return {
        status: "not-proven",
        test,
        why: `the proving test could not be written: ${unwritten}`,
      };
    before = summarize(prover.command, await prover.run(), prover.timeoutMs);
  } finally {
    await ws.git(["checkout", "--quiet", "--force", "--detach", head]);
  }
  const after = summarize(prover.command, await prover.run(), prover.timeoutMs);
  await ws.git(["reset", "--quiet", "--hard", "HEAD"]);
  run.tried.push(
    `proving test ${test.file}${test.name ? ` (${test.name})` : ""}: ${before.outcome} without the change, ${after.outcome} with it`,
  );
  log.info({ test, before: before.outcome, after: after.outcome }, "fix: proving test");
  if (before.passed)
    return {
      status: "not-proven",
      test,
      why: "it passes without the change, so it does not show the problem",
      before,
      after,
    };
  if (!after.passed)
    return { status: "not-proven", test, why: "it still fails with the change", before, after };
  return { status: "proven", test, before, after };
}

import { z } from "zod";

/**
 * The test that shows the problem: it must fail on the unchanged branch and pass with the fix.
 * Named by the approved plan, or by the model (which may write it as part of its edits).
 */
export const provingTestSchema = z.strictObject({
  file: z.string().min(1).max(400),
  /** A test's name within the file (passed to the runner's name filter); "" or absent: the whole file. */
  name: z.string().max(200).optional(),
});
export type ProvingTest = z.infer<typeof provingTestSchema>;

/** A proving test as written by the model or the plan: "" names become absent. */
export const cleanTest = (t: ProvingTest | null | undefined): ProvingTest | undefined =>
  t && t.file.trim()
    ? { file: t.file.trim(), ...(t.name?.trim() ? { name: t.name.trim() } : {}) }
    : undefined;

/**
 * Test files by their usual names (`*.test.ts`, `*.spec.js`, `test_*.py`, `*_test.py`,
 * `*_test.go`, anything under `test/`, `tests/`, `__tests__/`, `spec/`): a fix may add or change
 * one to prove itself even when the plan does not name it (the other path rules still hold).
 */
export function isTestPath(path: string): boolean {
  const base = path.split("/").pop() ?? "";
  return (
    /(^|\/)(test|tests|__tests__|spec)\//.test(path) ||
    /\.(test|spec)\.[A-Za-z0-9]+$/.test(base) ||
    /^test_.*\.py$/.test(base) ||
    /_test\.(py|go)$/.test(base)
  );
}

import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as core from "@actions/core";
import { vi } from "vitest";

// @actions/core remembers the summary file of the first write: one file per test process.
const SUMMARY_FILE = join(tmpdir(), `bg-action-summary-${process.pid}.html`);

export interface ActionRun {
  dir: string;
  /** The step's outputs, parsed from GITHUB_OUTPUT. */
  outputs(): Record<string, string>;
  /** The job summary (HTML) written to GITHUB_STEP_SUMMARY. */
  summary(): string;
  /** Everything the Action printed (workflow commands included). */
  stdout(): string;
  failed(): boolean;
  restore(): void;
}

/**
 * Sets up what a runner gives an Action: INPUT_* variables, GITHUB_* variables, and files for
 * outputs and the job summary; captures stdout. `restore()` puts the process back as it was.
 */
export function actionEnv(
  inputs: Record<string, string>,
  env: Record<string, string> = {},
): ActionRun {
  const dir = mkdtempSync(join(tmpdir(), "bg-action-"));
  const out = join(dir, "output");
  const sum = SUMMARY_FILE;
  core.summary.emptyBuffer();
  writeFileSync(out, "");
  writeFileSync(sum, "");
  const saved = { ...process.env };
  for (const k of Object.keys(process.env))
    if (k.startsWith("INPUT_") || k.startsWith("GITHUB_") || k.startsWith("BG_LLM_"))
      delete process.env[k];
  Object.assign(process.env, {
    GITHUB_REPOSITORY: "octo/demo",
    GITHUB_API_URL: "https://api.github.com",
    GITHUB_SERVER_URL: "https://github.com",
    GITHUB_RUN_ID: "4242",
    GITHUB_WORKSPACE: dir,
    GITHUB_OUTPUT: out,
    GITHUB_STEP_SUMMARY: sum,
    ...env,
  });
  for (const [k, v] of Object.entries(inputs)) process.env[`INPUT_${k.toUpperCase()}`] = v;
  let printed = "";
  const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    printed += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
    return true;
  });
  return {
    dir,
    outputs() {
      const text = readFileSync(out, "utf8");
      const result: Record<string, string> = {};
      for (const m of text.matchAll(/^([\w-]+)<<(ghadelimiter_[\w-]+)\n([\s\S]*?)\n\2$/gm))
        result[m[1]!] = m[3]!;
      return result;
    },
    summary: () => readFileSync(sum, "utf8"),
    stdout: () => printed,
    failed: () => process.exitCode === 1,
    restore() {
      spy.mockRestore();
      process.exitCode = undefined;
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    },
  };
}

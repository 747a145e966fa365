import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
// @ts-expect-error: a plain ES module script without types (scripts/root-action.mjs)
import { rootActionYml } from "../../scripts/root-action.mjs";

const root = join(import.meta.dirname, "../..");
const bin = join(root, "node_modules/@github/local-action/bin/local-action.js");

/** Runs an action directory's action.yml under @github/local-action with `env` as its .env. */
async function localAction(dir: string, entry: string, env: Record<string, string>) {
  const work = mkdtempSync(join(tmpdir(), "bg-root-action-"));
  const dotenv = join(work, "action.env");
  const out = join(work, "output");
  writeFileSync(out, "");
  writeFileSync(
    dotenv,
    Object.entries({ ...env, GITHUB_OUTPUT: out, GITHUB_STEP_SUMMARY: join(work, "summary") })
      .map(([k, v]) => `${k}=${v}`)
      .join("\n"),
  );
  writeFileSync(join(work, "summary"), "");
  return promisify(execFile)(process.execPath, [bin, "run", dir, entry, dotenv], {
    cwd: root,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: "1" },
    timeout: 90_000,
  }).then(
    (r) => ({ code: 0, stdout: r.stdout }),
    (e: { code?: number; stdout?: string }) => ({ code: e.code ?? 1, stdout: e.stdout ?? "" }),
  );
}

describe("the root action.yml (Marketplace: uses: OWNER/bg-agent@v1)", () => {
  const inner = readFileSync(join(root, "action/action.yml"), "utf8");
  const outer = readFileSync(join(root, "action.yml"), "utf8");

  it("is generated from action/action.yml: the same inputs and outputs, the same bundle", () => {
    expect(outer).toBe((rootActionYml as (t: string) => string)(inner));
    const a = parse(inner) as { inputs: object; outputs: object; runs: { main: string } };
    const b = parse(outer) as typeof a;
    expect(b.inputs).toEqual(a.inputs);
    expect(b.outputs).toEqual(a.outputs);
    expect(resolve(root, b.runs.main)).toBe(resolve(root, "action", a.runs.main));
  });

  it("both run the same bundle under @github/local-action (an invalid input, the same red step)", async () => {
    const env = {
      "INPUT_GITHUB-TOKEN": "ghs_fake",
      INPUT_MODE: "sometimes",
      GITHUB_REPOSITORY: "octo/demo",
    };
    const viaRoot = await localAction(root, "action/dist/index.js", env);
    const viaDir = await localAction(join(root, "action"), "dist/index.js", env);
    for (const r of [viaRoot, viaDir]) {
      expect(r.stdout).toContain("mode must be one of analyze, automerge, tasks, all");
    }
    const failure = (s: string) => s.match(/::error::.*/)?.[0];
    expect(failure(viaRoot.stdout)).toBeDefined();
    expect(failure(viaRoot.stdout)).toBe(failure(viaDir.stdout));
  }, 120_000);
});

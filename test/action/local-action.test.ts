import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { marker, readState, stateBlock } from "../../src/report/markers.js";
import type { FakeGitHub } from "../helpers/fake-github.js";
import { fakeGitHub } from "../helpers/fake-github.js";

const root = join(import.meta.dirname, "../..");
const bin = join(root, "node_modules/@github/local-action/bin/local-action.js");

/**
 * The committed bundle (action/dist/index.js), run by GitHub's own local runner for JavaScript
 * actions, @github/local-action, with a .env of inputs, against a fake GitHub API on 127.0.0.1.
 * The bundle carries its own @actions/core, so outputs and the job summary land in the files a
 * runner provides (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY).
 */
async function localAction(gh: FakeGitHub, inputs: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), "bg-local-action-"));
  const files = { out: join(dir, "output"), sum: join(dir, "summary") };
  writeFileSync(files.out, "");
  writeFileSync(files.sum, "");
  const env = {
    "INPUT_GITHUB-TOKEN": "ghs_fake",
    INPUT_MODE: "all",
    "INPUT_DRY-RUN": "false",
    ...inputs,
    GITHUB_REPOSITORY: "octo/demo",
    GITHUB_API_URL: gh.url,
    GITHUB_WORKSPACE: dir,
    GITHUB_OUTPUT: files.out,
    GITHUB_STEP_SUMMARY: files.sum,
  };
  writeFileSync(
    join(dir, ".env"),
    Object.entries(env)
      .map(([k, v]) => `${k}=${v}`)
      .join("\n"),
  );
  const run = await promisify(execFile)(
    process.execPath,
    [bin, "run", join(root, "action"), "dist/index.js", join(dir, ".env")],
    {
      cwd: root,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: "1" },
      timeout: 90_000,
    },
  ).then(
    (r) => ({ code: 0, stdout: r.stdout }),
    (e: { code?: number; stdout?: string }) => ({ code: e.code ?? 1, stdout: e.stdout ?? "" }),
  );
  const outputs: Record<string, string> = {};
  for (const m of readFileSync(files.out, "utf8").matchAll(
    /^([\w-]+)<<(ghadelimiter_[\w-]+)\n([\s\S]*?)\n\2$/gm,
  ))
    outputs[m[1]!] = m[3]!;
  return { ...run, outputs, summary: readFileSync(files.sum, "utf8") };
}

let gh: FakeGitHub | undefined;
afterEach(async () => {
  await gh?.close();
  gh = undefined;
});

describe("the bundled Action under @github/local-action", () => {
  it("is committed", () => {
    expect(existsSync(join(root, "action/dist/index.js"))).toBe(true);
  });

  it("runs a dry run: outputs and a job summary, and not one write to GitHub", async () => {
    gh = await fakeGitHub();
    const today = new Date().toISOString().slice(0, 10);
    gh.issues.push({
      number: 1,
      node_id: "I_1",
      title: "bg-agent dashboard",
      body: `${marker("dashboard", "main")}\n${stateBlock({ v: 1, spend: { [today]: 0.25 }, runs: [] })}`,
      labels: [{ name: "bg:dashboard" }],
      html_url: "https://github.com/octo/demo/issues/1",
      state: "open",
    });
    gh.files.set(".github/bg-agent.yml", "budget:\n  daily_usd: 2\n");
    gh.comments.push({
      id: 55,
      body: "/bg budget",
      html_url: "https://github.com/octo/demo/issues/3#issuecomment-55",
      issue_url: `${gh.url}/repos/octo/demo/issues/3`,
      created_at: new Date().toISOString(),
      user: { login: "alice", type: "User" },
    });
    const r = await localAction(gh, {
      "INPUT_DRY-RUN": "true",
      "INPUT_LLM-API-KEY": "sk-local-secret",
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Running Action");
    expect(r.stdout).toContain("::add-mask::sk-local-secret");
    expect(r.outputs).toMatchObject({ analyzed: "0", merged: "0", "cost-usd": "0.000000" });
    const summary = JSON.parse(r.outputs["summary-json"]!) as {
      dryRun: boolean;
      budget: { spentTodayUsd: number; dailyUsd: number };
      items: { type: string; item: string; outcome: string }[];
      errors: string[];
    };
    expect(summary).toMatchObject({ dryRun: true, budget: { spentTodayUsd: 0.25, dailyUsd: 2 } });
    expect(summary.errors).toEqual([]);
    // The real command processor answered `/bg budget` (the reply only logged: a dry run).
    expect(summary.items.map((i) => [i.type, i.item, i.outcome])).toEqual([
      ["command", "comment:55", "done"],
    ]);
    expect(r.stdout).toContain("dry run: would reply to the command comment");
    expect(r.summary).toContain("(all, standalone, dry run)");
    expect(r.summary).toContain("today $0.25 of $2.00");
    expect(gh.writes()).toEqual([]);
  });

  it("records the run in a new dashboard issue when not a dry run", async () => {
    gh = await fakeGitHub();
    const r = await localAction(gh, {});
    expect(r.code).toBe(0);
    expect(r.summary).toContain("runs with its default configuration");
    expect(gh.issues).toHaveLength(1);
    expect(gh.issues[0]!.labels).toEqual([{ name: "bg:dashboard" }]);
    expect(readState<{ runs: unknown[] }>(gh.issues[0]!.body)?.runs).toHaveLength(1);
    // The real processors' sweeps read the comments, the open PRs and the tech-debt issues.
    expect(gh.requests.map((q) => q.path.split("?")[0])).toEqual(
      expect.arrayContaining([
        "/repos/octo/demo/issues/comments",
        "/repos/octo/demo/pulls",
        "/repos/octo/demo/issues",
      ]),
    );
  });

  it("fails the step when GitHub refuses the token", async () => {
    gh = await fakeGitHub({ token: "the-right-one" });
    const r = await localAction(gh, {});
    expect(r.code).not.toBe(0);
    expect(r.stdout).toContain("::error::GitHub refused the token (401 Bad credentials)");
  });
});

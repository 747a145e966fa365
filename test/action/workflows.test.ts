import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import YAML from "yaml";

const root = join(import.meta.dirname, "../..");
const validate = (...files: string[]) =>
  promisify(execFile)(process.execPath, [join(root, "scripts/validate-workflows.mjs"), ...files], {
    cwd: root,
  }).then(
    (r) => ({ code: 0, out: r.stdout }),
    (e: { code: number; stderr: string }) => ({ code: e.code, out: e.stderr }),
  );

describe("the workflow files", () => {
  it("pass @action-validator (offline) and our own checks", async () => {
    const r = await validate();
    expect(r).toEqual({ code: 0, out: "workflows and action.yml are valid\n" });
  });

  it("the validator catches a broken workflow and untrusted text in a script", async () => {
    const dir = mkdtempSync(join(tmpdir(), "wf-"));
    const bad = join(dir, "bad.yml");
    writeFileSync(
      bad,
      [
        "on: issue_comment",
        "jobs:",
        "  x:",
        "    runs-on: ubuntu-latest",
        "    steps:",
        '      - run: echo "${{ github.event.comment.body }}"',
        "      - run: curl -H ${{ secrets.TOKEN }} x",
        "  y:",
        "    stepz: []",
      ].join("\n"),
    );
    const r = await validate(bad);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/untrusted event text or a secret is interpolated into a script/);
    expect(r.out.match(/interpolated/g)).toHaveLength(2);
    expect(r.out).toMatch(/bad\.yml/);
  });

  it("the scheduled workflow asks for the least permissions and only wakes on people's /bg comments", () => {
    const wf = YAML.parse(readFileSync(join(root, ".github/workflows/bg-agent.yml"), "utf8")) as {
      on: Record<string, unknown>;
      permissions: unknown;
      jobs: {
        run: {
          if: string;
          permissions: Record<string, string>;
          steps: { uses?: string; with?: Record<string, string> }[];
        };
      };
    };
    expect(Object.keys(wf.on).sort()).toEqual([
      "issue_comment",
      "repository_dispatch",
      "schedule",
      "workflow_dispatch",
    ]);
    expect(wf.on.schedule).toEqual([{ cron: "*/30 * * * *" }]);
    expect(wf.permissions).toEqual({});
    expect(wf.jobs.run.permissions).toEqual({
      contents: "write",
      "pull-requests": "write",
      issues: "write",
      checks: "write",
      statuses: "read",
      actions: "read",
    });
    expect(wf.jobs.run.if).toContain("github.event.comment.user.type != 'Bot'");
    const step = wf.jobs.run.steps.find((s) => s.uses === "./action");
    expect(step?.with?.["llm-api-key"]).toBe("${{ secrets.BG_LLM_API_KEY }}");
  });

  it("action.yml declares every input and output the Action reads and sets", () => {
    const action = YAML.parse(readFileSync(join(root, "action/action.yml"), "utf8")) as {
      inputs: Record<string, { default?: string }>;
      outputs: Record<string, unknown>;
      runs: { using: string; main: string };
    };
    const main = readFileSync(join(root, "action/src/inputs.ts"), "utf8");
    const read = [...main.matchAll(/get\("([a-z-]+)"\)/g)].map((m) => m[1]);
    expect(Object.keys(action.inputs).sort()).toEqual([...new Set(read)].sort());
    expect(action.inputs["github-token"]?.default).toBe("${{ github.token }}");
    expect(Object.keys(action.outputs).sort()).toEqual([
      "analyzed",
      "cost-usd",
      "merged",
      "summary-json",
    ]);
    expect(action.runs).toEqual({ using: "node24", main: "dist/index.js" });
  });
});

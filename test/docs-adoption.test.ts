import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const root = join(import.meta.dirname, "..");
const read = (p: string): string => readFileSync(join(root, p), "utf8");
const readme = read("README.md");
const actionDoc = read("docs/action.md");

/** The first ```yaml block after `heading` that starts with `name: bg-agent`. */
function workflowAfter(text: string, heading: string): unknown {
  const from = text.indexOf(heading);
  expect(from).toBeGreaterThanOrEqual(0);
  const m = /```yaml\n(name: bg-agent\n[\s\S]*?)```/.exec(text.slice(from));
  expect(m).not.toBeNull();
  return parse(m![1]!);
}

describe("docs that do not trip people up", () => {
  it("README's workflow is docs/action.md's (permissions, timeout-minutes and all)", () => {
    const a = workflowAfter(readme, "### Run it in GitHub Actions");
    const b = workflowAfter(actionDoc, "## Quick start");
    expect(a).toEqual(b);
    expect(a).toMatchObject({ jobs: { run: { "timeout-minutes": 30 } } });
  });

  it("every Action input is listed in README and in docs/action.md's table", () => {
    const inputs = Object.keys(
      (parse(read("action/action.yml")) as { inputs: Record<string, unknown> }).inputs,
    );
    for (const name of inputs) {
      expect(readme, `README lists ${name}`).toContain(`\`${name}\``);
      expect(actionDoc, `docs/action.md's table lists ${name}`).toMatch(
        new RegExp(`^\\| \`${name}\` +\\|`, "m"),
      );
    }
  });

  it("examples are pinned to @v1 and to a full commit SHA, with the reason", () => {
    for (const doc of [readme, actionDoc]) {
      expect(doc).toMatch(/uses: <owner>\/bg-agent@v1\n/);
      expect(doc).toMatch(/uses: <owner>\/bg-agent@<full-40-character-commit-sha[^>]*> # v\d/);
      expect(doc).toMatch(/tag-repointing/);
    }
  });

  it("the local-action recipe writes its own file, never .env (Probot's credentials)", () => {
    const recipe = actionDoc.slice(actionDoc.indexOf("### Testing the Action locally"));
    expect(recipe).toContain("cat > local-action.env");
    expect(recipe).not.toMatch(/cat > \.env\b/);
    expect(recipe).not.toMatch(/ \.env\n/);
    expect(read(".gitignore")).toMatch(/^local-action\.env$/m);
  });

  it("README's Quick start is still the two commands, and there is a Check your config section", () => {
    const quick = readme.slice(readme.indexOf("## Quick start"));
    const block = /```sh\n([\s\S]*?)```/.exec(quick)![1]!.trim().split("\n");
    expect(block).toHaveLength(2);
    expect(block[0]).toMatch(/^npm ci && npm start/);
    expect(block[1]).toMatch(/^npm ci && npm test/);
    expect(readme).toMatch(/^## Check your config$/m);
    expect(readme).toContain("npx bg-agent validate");
  });
});

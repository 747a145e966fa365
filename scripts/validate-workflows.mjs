#!/usr/bin/env node
// Validates .github/workflows/*.yml and action/action.yml against the schemas of
// @action-validator/core (offline: its schemas are compiled into its WebAssembly), plus two
// checks of our own: no untrusted event text interpolated into `run:` scripts, and the Action's
// runtime. Exit code 1 with every problem listed.
//   node scripts/validate-workflows.mjs            the repository's workflows and action/action.yml
//   node scripts/validate-workflows.mjs FILE...    just these workflow files
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { validateAction, validateWorkflow } from "@action-validator/core";
import YAML from "yaml";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const problems = [];

// Event fields anyone can write: they must reach a script through env, never through ${{ }}.
const UNTRUSTED =
  /\$\{\{[^}]*github\.(event\.(comment|issue|pull_request|review|review_comment|discussion|pages|commits|head_commit|workflow_run)\b|head_ref)[^}]*\}\}/;

function walkRuns(node, file, path = "") {
  if (Array.isArray(node)) node.forEach((n, i) => walkRuns(n, file, `${path}[${i}]`));
  else if (node && typeof node === "object") {
    for (const [k, v] of Object.entries(node)) {
      if (
        k === "run" &&
        typeof v === "string" &&
        (UNTRUSTED.test(v) || /\$\{\{\s*secrets\./.test(v))
      ) {
        problems.push(
          `${file}${path}.run: untrusted event text or a secret is interpolated into a script; pass it through env`,
        );
      }
      walkRuns(v, file, `${path}.${k}`);
    }
  }
}

const report = (file, result) => {
  for (const e of result.errors)
    problems.push(`${file}: ${e.path ?? ""} ${e.title}${e.detail ? `: ${e.detail}` : ""}`);
};

const given = process.argv.slice(2);
const dir = join(root, ".github/workflows");
const workflows = given.length
  ? given
  : readdirSync(dir)
      .filter((f) => /\.ya?ml$/.test(f))
      .sort()
      .map((f) => join(dir, f));
for (const file of workflows) {
  const text = readFileSync(file, "utf8");
  const name = relative(root, file);
  report(name, validateWorkflow(text));
  walkRuns(YAML.parse(text), name);
}

if (!given.length) {
  const actionText = readFileSync(join(root, "action/action.yml"), "utf8");
  const action = YAML.parse(actionText);
  if (action?.runs?.using !== "node24")
    problems.push("action/action.yml: runs.using must be node24");
  if (action?.runs?.main !== "dist/index.js")
    problems.push("action/action.yml: runs.main must be dist/index.js");
  // @action-validator 0.6 predates the node24 runtime (its schema stops at node20): validate the
  // rest of the file with that one value swapped.
  report(
    "action/action.yml",
    validateAction(actionText.replace(/using:\s*node24/, "using: node20")),
  );
  // The root action.yml (Marketplace) is generated from action/action.yml: it must match.
  const { rootActionYml } = await import("./root-action.mjs");
  const rootText = readFileSync(join(root, "action.yml"), "utf8");
  if (rootText !== rootActionYml(actionText))
    problems.push("action.yml: stale; run npm run build:action (or node scripts/root-action.mjs)");
  report("action.yml", validateAction(rootText.replace(/using:\s*node24/, "using: node20")));
}

if (problems.length) {
  console.error(problems.map((p) => `- ${p}`).join("\n"));
  process.exit(1);
}
console.log("workflows and action.yml are valid");

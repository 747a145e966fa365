#!/usr/bin/env node
// Writes the repository root's action.yml (the one the Marketplace lists, `uses: OWNER/bg-agent@v1`)
// from action/action.yml: the same inputs and outputs, running the same bundle
// (`main: dist/index.js` becomes `main: action/dist/index.js`). Called by scripts/build-action.mjs;
// `node scripts/root-action.mjs` alone rewrites only action.yml. Never edit the root file by hand.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT_ACTION_HEADER =
  "# Generated from action/action.yml by scripts/root-action.mjs (npm run build:action). Do not edit.\n";

/** The root action.yml's text for action/action.yml's text. */
export function rootActionYml(text) {
  const main = /^([ \t]+main:[ \t]*)dist\/index\.js[ \t]*$/m;
  if (!main.test(text)) throw new Error("action/action.yml has no `main: dist/index.js` line");
  return ROOT_ACTION_HEADER + text.replace(main, "$1action/dist/index.js");
}

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

export function writeRootAction() {
  const out = rootActionYml(readFileSync(join(root, "action/action.yml"), "utf8"));
  writeFileSync(join(root, "action.yml"), out);
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeRootAction();
  console.log("action.yml: generated from action/action.yml");
}

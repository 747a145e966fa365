import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { ProcessorContext } from "../../worker/types.js";
import { git } from "./git.js";

/**
 * Builds the project context (the cached prompt prefix) from a checked-out repository. The
 * analysis builds the shared one; the fix processor takes it as a parameter and falls back to
 * this small default: the README and the file tree, byte-stable for the same commit.
 */
export type ProjectContextFn = (root: string, ctx: ProcessorContext) => Promise<string>;

const README_NAMES = ["README.md", "README", "README.rst", "README.txt", "readme.md"];

export const defaultProjectContext: ProjectContextFn = async (root, ctx) => {
  const maxChars = ctx.config.tech_debt.context.max_tokens * 4;
  const files = (await git(["ls-files", "-z"], { cwd: root })).split("\0").filter(Boolean).sort();
  let readme = "";
  for (const name of README_NAMES) {
    if (!files.includes(name)) continue;
    readme = await readFile(join(root, name), "utf8").catch(() => "");
    if (readme) {
      readme = `## ${name}\n\n${readme.slice(0, Math.floor(maxChars / 2))}\n`;
      break;
    }
  }
  const tree: string[] = [];
  let used = readme.length;
  for (const f of files) {
    if (used + f.length + 1 > maxChars) {
      tree.push(`… and ${files.length - tree.length} more files`);
      break;
    }
    tree.push(f);
    used += f.length + 1;
  }
  return `# Project ${ctx.repoName}\n\n${readme}\n## Files\n\n${tree.join("\n")}\n`;
};

/**
 * The Action's entry point (bundled into action/dist/index.js). GitHub runs this file, which runs
 * the Action; a tool that imports it instead (@github/local-action) calls the exported run().
 */
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { run } from "./main.js";

export { run };

function isEntryPoint(): boolean {
  try {
    return realpathSync(process.argv[1] ?? "") === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) await run();

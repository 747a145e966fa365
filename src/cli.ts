#!/usr/bin/env node
/** The `bg-agent` command (package.json bin -> dist/cli.js). The work is in src/cli/main.ts. */
import { main } from "./cli/main.js";

process.exitCode = await main(process.argv.slice(2), process.env, {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
});

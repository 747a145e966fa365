#!/usr/bin/env node
/** The `bg-agent` command (package.json bin -> bin/bg-agent.js: dist/cli.js when built, else this file through tsx). The work is in src/cli/main.ts. */
import { main } from "./cli/main.js";

process.exitCode = await main(process.argv.slice(2), process.env, {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
});

#!/usr/bin/env node
// The `bg-agent` command. Runs the build (dist/cli.js) when there is one; in a fresh clone
// (`npm ci`, no build yet) it runs the TypeScript sources through tsx, a devDependency, so
// `npx bg-agent` works without `npm run build`. BG_AGENT_FROM_SOURCE=1 forces the sources.
import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const built = `${root}dist/cli.js`;

if (existsSync(built) && process.env.BG_AGENT_FROM_SOURCE !== "1") {
  await import(pathToFileURL(built).href);
} else {
  let register;
  try {
    ({ register } = await import("tsx/esm/api"));
  } catch {
    process.stderr.write(
      "bg-agent: no build (dist/cli.js) and no tsx to run the sources: run npm ci, or npm run build\n",
    );
    process.exit(1);
  }
  register();
  await import(pathToFileURL(`${root}src/cli.ts`).href);
}

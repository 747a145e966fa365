import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const dockerfile = readFileSync(new URL("../Dockerfile", import.meta.url), "utf8");
const instructions = dockerfile
  .replace(/\\\n/g, " ")
  .split("\n")
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith("#"));

describe("Dockerfile (linted here; no Docker engine runs on this machine)", () => {
  it("passes dockerfile-utils lint", () => {
    const r = spawnSync(
      process.execPath,
      ["node_modules/dockerfile-utils/bin/dockerfile-utils", "lint", "Dockerfile"],
      {
        encoding: "utf8",
      },
    );
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("builds in one stage and runs in another, as a non-root user, with a health check", () => {
    const froms = instructions.filter((l) => /^FROM\s/i.test(l));
    expect(froms.length).toBeGreaterThanOrEqual(2);
    const runtime = instructions.slice(instructions.lastIndexOf(froms.at(-1)!));
    expect(runtime.some((l) => /^COPY\s+--from=build\b/i.test(l))).toBe(true);
    const user = runtime.filter((l) => /^USER\s/i.test(l)).at(-1);
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^USER\s+(root|0)(:|\s|$)/i);
    expect(runtime.some((l) => /^HEALTHCHECK\s+.*\/ping/i.test(l))).toBe(true);
  });
});

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import nock from "nock";
import { afterEach, describe, expect, it } from "vitest";
import { MAX_CONFIG_BYTES } from "../../src/config/size.js";
import { loadRunConfig } from "../../src/worker/run-config.js";
import { testOctokit } from "../helpers/context.js";

describe("the runner's workspace config has the 64 KB cap", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it("a checked-out .github/bg-agent.yml over 64 KB is a (file) problem, not parsed", async () => {
    const ws = mkdtempSync(join(tmpdir(), "bg-ws-"));
    dirs.push(ws);
    mkdirSync(join(ws, ".github"));
    writeFileSync(join(ws, ".github/bg-agent.yml"), `# ${"x".repeat(MAX_CONFIG_BYTES)}\n`);
    const r = await loadRunConfig({
      octokit: testOctokit(),
      ref: { owner: "octo", repo: "demo" },
      workspace: ws,
    });
    expect(r.source).toBe("workspace");
    expect(r.result.ok).toBe(false);
    expect(r.result.problems[0]?.message).toMatch(/at most 65,536 \(64 KB\)/);
    expect(nock.pendingMocks()).toEqual([]);
  });
});

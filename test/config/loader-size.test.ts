import nock from "nock";
import { describe, expect, it } from "vitest";
import { MAX_CONFIG_BYTES } from "../../src/config/size.js";
import { loadRunConfig } from "../../src/config/loader.js";
import { testOctokit } from "../helpers/context.js";
import { API, nockConfigFile } from "../helpers/github-nock.js";

describe("the runner's config has the 64 KB cap", () => {
  it("a .github/bg-agent.yml over 64 KB on the default branch is a (file) problem, not parsed", async () => {
    nockConfigFile(nock(API), `# ${"x".repeat(MAX_CONFIG_BYTES)}\n`);
    const r = await loadRunConfig({ octokit: testOctokit(), ref: { owner: "octo", repo: "demo" } });
    expect(r.result.ok).toBe(false);
    expect(r.result.problems[0]?.message).toMatch(/at most 65,536 \(64 KB\)/);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("an _extends base over 64 KB is refused the same way", async () => {
    const scope = nock(API);
    nockConfigFile(scope, "_extends: .github\n");
    nockConfigFile(
      scope,
      `# ${"x".repeat(MAX_CONFIG_BYTES)}\n`,
      ".github/bg-agent.yml",
      "octo/.github",
    );
    const r = await loadRunConfig({ octokit: testOctokit(), ref: { owner: "octo", repo: "demo" } });
    expect(r.result.ok).toBe(false);
    expect(r.result.problems[0]?.message).toMatch(/octo\/\.github.*at most 65,536 \(64 KB\)/);
    expect(nock.pendingMocks()).toEqual([]);
  });
});

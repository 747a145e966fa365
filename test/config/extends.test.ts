import { describe, expect, it } from "vitest";
import {
  deepMerge,
  extendsAllowed,
  parseExtendsAllow,
  readConfigChain,
} from "../../src/config/extends.js";
import { readEnv } from "../../src/env.js";

describe("BG_CONFIG_EXTENDS_ALLOW", () => {
  it("parses owners and owner/repo entries, comma-separated, case-insensitively", () => {
    expect(
      readEnv({ BG_CONFIG_EXTENDS_ALLOW: "Acme, octo-org/Policies" }).BG_CONFIG_EXTENDS_ALLOW,
    ).toEqual(["acme", "octo-org/policies"]);
    expect(readEnv({}).BG_CONFIG_EXTENDS_ALLOW).toEqual([]);
  });

  it("stops start-up naming the variable and the bad entry", () => {
    expect(() => readEnv({ BG_CONFIG_EXTENDS_ALLOW: "acme,https://evil" })).toThrow(
      /BG_CONFIG_EXTENDS_ALLOW: "https:\/\/evil" is not an owner/,
    );
  });

  it("an owner entry allows all its repositories; an owner/repo entry only that one", () => {
    const home = { owner: "octo", repo: "demo" };
    const allow = parseExtendsAllow("acme,corp/policies");
    expect(extendsAllowed(home, { owner: "OCTO", repo: ".github" }, allow)).toBe(true);
    expect(extendsAllowed(home, { owner: "acme", repo: "anything" }, allow)).toBe(true);
    expect(extendsAllowed(home, { owner: "corp", repo: "policies" }, allow)).toBe(true);
    expect(extendsAllowed(home, { owner: "corp", repo: "other" }, allow)).toBe(false);
    expect(extendsAllowed(home, { owner: "evil", repo: "base" }, [])).toBe(false);
  });
});

describe("merging config layers", () => {
  it("merges as Probot does: mappings by key, lists concatenated, the nearer file winning", () => {
    expect(
      deepMerge(
        { automerge: { method: "rebase", blocking_labels: ["wip"] }, budget: { daily_usd: 1 } },
        { automerge: { method: "merge", blocking_labels: ["hold"] } },
      ),
    ).toEqual({
      automerge: { method: "merge", blocking_labels: ["wip", "hold"] },
      budget: { daily_usd: 1 },
    });
  });

  it("a __proto__ key in a file reaches no prototype", () => {
    const evil = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as Record<string, unknown>;
    const merged = deepMerge({ a: 0 }, evil);
    expect(merged).toEqual({ a: 1 });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe("_extends values", () => {
  it("refuses a repository named . or .. and a path climbing out with ..", async () => {
    for (const ext of ["..", "octo/..", "demo:../../secret.yml"]) {
      const octokit = {
        request: () => Promise.resolve({ data: `_extends: "${ext}"\n`, headers: {} }),
      } as unknown as Parameters<typeof readConfigChain>[0];
      await expect(
        readConfigChain(octokit, { owner: "octo", repo: "demo" }, ".github/bg-agent.yml"),
      ).rejects.toThrow(/is not \[owner\/\]repo\[:path\.yml\]/);
    }
  });
});

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import nock from "nock";
import { afterEach, describe, expect, it } from "vitest";
import { run } from "../../action/src/main.js";
import type { ActionRun } from "../helpers/action-env.js";
import { actionEnv } from "../helpers/action-env.js";
import { fakeLlm } from "../helpers/fake-llm.js";
import { fakeProcessors } from "../helpers/fake-processors.js";
import { API, nockComments, nockConfigFile } from "../helpers/github-nock.js";

// The Action (standalone) takes its config from the default branch, with `_extends` limited to
// the repository's owner and the `config-extends-allow` input (or BG_CONFIG_EXTENDS_ALLOW).

const usage = { promptTokens: 1000, cachedTokens: 600, completionTokens: 50, costUsd: 0.003 };
let current: ActionRun | undefined;
const start = (inputs: Record<string, string>, env: Record<string, string> = {}) => {
  current = actionEnv(
    { "github-token": "ghs_secret_token", "llm-api-key": "sk-very-secret", ...inputs },
    env,
  );
  return current;
};
afterEach(() => {
  current?.restore();
  current = undefined;
  const pending = nock.pendingMocks();
  nock.cleanAll();
  expect(pending).toEqual([]);
});

const CLEANUP = "tech_debt:\n  github:\n    labels: [cleanup]\n  batch_size: 1\n";

/** A file bg-agent must never read: counts the reads; optional, so never pending. */
function forbidden(repo: string): { reads: number } {
  const seen = { reads: 0 };
  nock(API)
    .get(new RegExp(`^/repos/${repo}/contents/`))
    .optionally()
    .times(5)
    .reply(() => {
      seen.reads++;
      return [200, CLEANUP, { "content-type": "application/vnd.github.raw; charset=utf-8" }];
    });
  return seen;
}

/** What a dry run that analyses issues labelled `cleanup` reads. */
function cleanupRun(scope: nock.Scope): void {
  scope
    .get("/repos/octo/demo/issues")
    .query((q) => q.labels === "bg:dashboard")
    .reply(200, []);
  nockComments(scope);
  scope
    .get("/repos/octo/demo/issues")
    .query((q) => q.labels === "cleanup")
    .reply(200, [
      { number: 4, title: "a", body: "", labels: [] },
      { number: 5, title: "b", body: "", labels: [] },
    ]);
}

describe("the Action's config sources", () => {
  it("refuses _extends naming another owner: the run says so, names _extends and the source, does no LLM work, never reads it", async () => {
    const a = start({ mode: "analyze", "dry-run": "true" });
    // The checkout's own file would have been fine; it is not what counts.
    mkdirSync(join(a.dir, ".github"));
    writeFileSync(join(a.dir, ".github/bg-agent.yml"), CLEANUP);
    const llm = fakeLlm(['{"ok":true}', '{"ok":true}'], usage);
    const scope = nock(API).get("/repos/octo/demo").reply(200, { default_branch: "main" });
    nockConfigFile(scope, "_extends: evil/base\n");
    const evil = forbidden("evil/base");
    scope
      .get("/repos/octo/demo/issues")
      .query((q) => q.labels === "bg:dashboard")
      .reply(200, []);
    nockComments(scope);

    await run({ processors: fakeProcessors(), createLlm: () => llm, githubRetries: false });

    expect(evil.reads).toBe(0);
    expect(llm.calls).toHaveLength(0);
    const out = a.stdout() + a.summary();
    expect(out).toContain("_extends");
    expect(out).toContain("refused source evil/base:.github/bg-agent.yml");
    expect(out).toContain("config-extends-allow");
  });

  it("follows an owner allowed by config-extends-allow; refuses a foreign base of that base", async () => {
    let a = start({ mode: "analyze", "dry-run": "true", "config-extends-allow": "evil" });
    let llm = fakeLlm(['{"ok":true}', '{"ok":true}'], usage);
    let scope = nock(API).get("/repos/octo/demo").reply(200, { default_branch: "main" });
    nockConfigFile(scope, "_extends: evil/base\n");
    nockConfigFile(scope, CLEANUP, ".github/bg-agent.yml", "evil/base");
    cleanupRun(scope);
    await run({ processors: fakeProcessors(), createLlm: () => llm, githubRetries: false });
    expect(a.failed()).toBe(false);
    expect(llm.calls).toHaveLength(2); // batch_size 1 from the allowed base
    expect(nock.pendingMocks()).toEqual([]);
    a.restore();

    // BG_CONFIG_EXTENDS_ALLOW allows acme; acme's base extends mallory: refused (the chain).
    a = start({ mode: "analyze", "dry-run": "true" }, { BG_CONFIG_EXTENDS_ALLOW: "acme" });
    llm = fakeLlm([], usage);
    scope = nock(API).get("/repos/octo/demo").reply(200, { default_branch: "main" });
    nockConfigFile(scope, "_extends: acme/base\n");
    nockConfigFile(scope, "_extends: mallory/base\n", ".github/bg-agent.yml", "acme/base");
    const mallory = forbidden("mallory/base");
    scope
      .get("/repos/octo/demo/issues")
      .query((q) => q.labels === "bg:dashboard")
      .reply(200, []);
    nockComments(scope);
    await run({ processors: fakeProcessors(), createLlm: () => llm, githubRetries: false });
    expect(mallory.reads).toBe(0);
    expect(llm.calls).toHaveLength(0);
    expect(a.stdout() + a.summary()).toContain("refused source mallory/base:.github/bg-agent.yml");
  });

  it("a bad config-extends-allow entry fails the step, naming the input", async () => {
    const a = start({ "config-extends-allow": "acme, not an owner!" });
    await run({ processors: fakeProcessors(), githubRetries: false });
    expect(a.failed()).toBe(true);
    expect(a.stdout()).toContain(`config-extends-allow: "owner!" is not an owner`);
  });
});

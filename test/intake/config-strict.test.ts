import nock from "nock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { fetchConfig } from "../../src/config/fetch.js";
import { parseConfig } from "../../src/config/load.js";
import { MAX_CONFIG_BYTES } from "../../src/config/size.js";
import { deliver, startTestApp } from "../helpers/app-server.js";
import { testOctokit } from "../helpers/context.js";
import type { TestApp } from "../helpers/app-server.js";
import { pullRequestEvent } from "../helpers/payloads.js";
import { API, nockInstallationToken, nockRawConfig } from "../helpers/github-nock.js";

const HEAD = "d".repeat(40);

const token = nockInstallationToken;

const configFile = (yaml: string) => nockRawConfig(yaml);

/** Expects the bg-agent/config check run on HEAD; returns what was posted. */
function expectCheckRun(): { body?: { conclusion?: string; output?: { summary?: string } } } {
  const seen: { body?: { conclusion?: string; output?: { summary?: string } } } = {};
  nock(API)
    .get("/repos/octo/demo/branches/main")
    .reply(200, { name: "main", commit: { sha: HEAD } })
    .get(`/repos/octo/demo/commits/${HEAD}/check-runs`)
    .query(true)
    .reply(200, { total_count: 0, check_runs: [] })
    .post("/repos/octo/demo/check-runs", (b: { conclusion?: string }) => {
      seen.body = b;
      return true;
    })
    .reply(201, { id: 9, html_url: "https://github.com/octo/demo/runs/9" });
  return seen;
}

const problems = (raw: unknown) => {
  const r = parseConfig(raw);
  return r.problems.map((p) => `${p.path}: ${p.message}`);
};

describe("a config over 64 KB is a config error, not seconds of parsing", () => {
  let app: TestApp;
  beforeEach(async () => {
    app = await startTestApp();
  });
  afterEach(() => app.close());

  it("a ~1 MB file of 20,000 keys: a failed bg-agent/config check run naming the cap; no work queued", async () => {
    const yaml = Array.from({ length: 20_000 }, (_, i) => `key_${i}: ${"x".repeat(40)}`).join("\n");
    expect(yaml.length).toBeGreaterThan(MAX_CONFIG_BYTES * 10);
    token();
    configFile(yaml);
    const posted = expectCheckRun();
    const res = await deliver(app, { name: "pull_request", payload: pullRequestEvent() });
    expect(res.status).toBe(200);
    expect(posted.body?.conclusion).toBe("failure");
    expect(posted.body?.output?.summary).toMatch(/at most 65,536 \(64 KB\)/);
    expect(await app.store.tasks.list()).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("an _extends base over the cap (any path) is the same config error", async () => {
    token();
    configFile("_extends: .github:shared/base.yml\nautomerge:\n  method: merge\n");
    nock(API)
      .get(/^\/repos\/octo\/\.github\/contents\/shared(%2F|\/)base\.yml/)
      .reply(200, `# ${"x".repeat(MAX_CONFIG_BYTES)}\n`, {
        "content-type": "application/vnd.github.raw; charset=utf-8",
      });
    const posted = expectCheckRun();
    await deliver(app, { name: "pull_request", payload: pullRequestEvent() });
    expect(posted.body?.conclusion).toBe("failure");
    expect(posted.body?.output?.summary).toMatch(/shared\/base\.yml.*at most 65,536/);
    expect(await app.store.tasks.list()).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a file just under the cap is read and validated as usual", async () => {
    const filler = `# ${"-".repeat(1000)}\n`.repeat(60); // ~60 KB of comments
    token();
    configFile(`${filler}automerge:\n  method: merge\n`);
    const res = await deliver(app, { name: "pull_request", payload: pullRequestEvent() });
    expect(res.status).toBe(200);
    expect(await app.store.tasks.list()).toHaveLength(1);
    expect(nock.pendingMocks()).toEqual([]);
  });
});

describe("the worker's config read has the same cap", () => {
  it("fetchConfig: a file over 64 KB is a (file) problem naming the cap, never parsed", async () => {
    configFile(`# ${"x".repeat(MAX_CONFIG_BYTES)}\nautomerge: {}\n`);
    const r = await fetchConfig(testOctokit(), { owner: "octo", repo: "demo" });
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual([
      {
        path: "(file)",
        message: expect.stringMatching(
          /^octo\/demo:.github\/bg-agent.yml is 65,553 bytes; bg-agent reads at most 65,536 \(64 KB\)/,
        ),
      },
    ]);
    expect(nock.pendingMocks()).toEqual([]);
  });
});

describe("the config schema is strict: unknown keys are errors that name them", () => {
  it("a misspelt top-level key, with a suggestion", () => {
    expect(parseConfig({ automerg: { method: "merge" } }).ok).toBe(false);
    expect(problems({ automerg: { method: "merge" } })).toEqual([
      'automerg: unknown key "automerg" (did you mean "automerge"?)',
    ]);
  });

  it("a misspelt nested key, with a suggestion, and an unknown key far from any, without one", () => {
    expect(problems({ automerge: { requried_approvals: 2 }, zzzzzz: 1 })).toEqual(
      expect.arrayContaining([
        'automerge.requried_approvals: unknown key "requried_approvals" (did you mean "required_approvals"?)',
        'zzzzzz: unknown key "zzzzzz"',
      ]),
    );
  });

  it("an unknown key in a task drops that task only (a neutral problem)", () => {
    const r = parseConfig({
      tasks: [
        { name: "a", prompt: "p", every: "1h", promt: "x" },
        { name: "b", prompt: "p", every: "1h" },
      ],
    });
    expect(r.ok).toBe(true);
    expect(r.problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
      'tasks[0].promt: unknown key "promt" (did you mean "prompt"?)',
    ]);
    expect(r.ok && r.config.tasks.map((t) => t.name)).toEqual(["b"]);
  });

  it("a misspelt key is reported in the failed check run", async () => {
    const app = await startTestApp();
    try {
      token();
      configFile("automerge:\n  metod: merge\n");
      const posted = expectCheckRun();
      await deliver(app, { name: "pull_request", payload: pullRequestEvent() });
      expect(posted.body?.conclusion).toBe("failure");
      expect(posted.body?.output?.summary).toContain('did you mean "method"');
      expect(await app.store.tasks.list()).toEqual([]);
      expect(nock.pendingMocks()).toEqual([]);
    } finally {
      await app.close();
    }
  });
});

import nock from "nock";
import { afterEach, describe, expect, it } from "vitest";
import { pullRequestEvent } from "../helpers/payloads.js";
import { API, REPO, nockConfig, nockToken, startE2E } from "./harness.js";
import type { E2E } from "./harness.js";

const HEAD = "c0ffee0000000000000000000000000000000001";
/** The default branch's config: valid, automerge off so the PR queues only the config check. */
const IN_FORCE = { activity: { pause_when_active_minutes: 0 }, automerge: { enabled: false } };

let app: E2E | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
  nock.cleanAll();
});

/** A push to the PR's branch `feature` (its head commit HEAD) that modifies `files`. */
function pushEvent(files: string[], after = HEAD) {
  const { repository, installation, sender } = pullRequestEvent();
  return {
    ref: "refs/heads/feature",
    before: "b".repeat(40),
    after,
    size: 1,
    commits: [{ added: [], removed: [], modified: files }],
    repository: { ...repository, default_branch: "main" },
    installation,
    sender,
  };
}

/** The proposed file at the PR head: GitHub's contents JSON (content omitted over 1 MB). */
function mockProposed(text: string | null, size = text ? Buffer.byteLength(text) : 0): void {
  nock(API)
    .get(`/repos/${REPO}/contents/.github%2Fbg-agent.yml`)
    .query({ ref: HEAD })
    .reply(200, {
      type: "file",
      size,
      encoding: text === null ? "none" : "base64",
      content: text === null ? "" : Buffer.from(text).toString("base64"),
    });
}

function mockConfigCheckRun(): {
  body?: {
    name: string;
    head_sha: string;
    conclusion: string;
    output: { title: string; summary: string };
  };
} {
  const seen: ReturnType<typeof mockConfigCheckRun> = {};
  nock(API)
    .get(`/repos/${REPO}/commits/${HEAD}/check-runs`)
    .query((q) => q.check_name === "bg-agent/config")
    .reply(200, { total_count: 0, check_runs: [] });
  nock(API)
    .post(`/repos/${REPO}/check-runs`, (b: NonNullable<typeof seen.body>) => {
      seen.body = b;
      return true;
    })
    .reply(201, { id: 5, html_url: `https://github.com/${REPO}/runs/5` });
  return seen;
}

/** The PR is opened (automerge is off: nothing queued), then its branch gets a push changing the config. */
async function openPr(a: E2E): Promise<void> {
  nockToken();
  nockConfig(IN_FORCE);
  const opened = await a.deliver("pull_request", pullRequestEvent({ sha: HEAD }));
  expect(opened).toEqual({ status: 200, body: { ok: true } });
  const pushed = await a.deliver("push", pushEvent([".github/bg-agent.yml", "src/x.ts"]));
  expect(pushed).toEqual({ status: 200, body: { ok: true } });
  expect(await a.store.tasks.list()).toMatchObject([
    {
      type: "config_check",
      source: "branch:feature",
      status: "pending",
      payload: { headSha: HEAD, branch: "feature" },
    },
  ]);
}

describe("e2e: a PR that changes .github/bg-agent.yml gets bg-agent/config on its head (signed webhooks, one worker pass)", () => {
  it("the proposed file's problems (with lines) are the check run; the default branch's config stays in force", async () => {
    app = await startE2E();
    await openPr(app);
    mockProposed(
      "automerge:\n  enabled: true\nautomerg:\n  method: squash\nbudget:\n  daily_usd: -1\n",
    );
    const check = mockConfigCheckRun();
    const summary = await app.pass();

    expect(summary.repos[0]!.processed).toMatchObject([{ type: "config_check", outcome: "done" }]);
    expect(check.body).toMatchObject({
      name: "bg-agent/config",
      head_sha: HEAD,
      conclusion: "failure",
    });
    expect(check.body!.output.title).toContain("invalid (2 problems)");
    expect(check.body!.output.summary).toContain(
      '`automerg` (line 3): unknown key "automerg" (did you mean "automerge"?)',
    );
    expect(check.body!.output.summary).toContain("`budget.daily_usd` (line 6)");
    expect(check.body!.output.summary).toContain(
      "the configuration in force stays the default branch's",
    );
    // Only validated, never used: the config in force is still the default branch's.
    const inForce = await app.env.config(REPO, await app.env.github(REPO));
    expect(inForce.ok && inForce.config.automerge.enabled).toBe(false);
    expect((await app.store.repos.get(REPO))!.configValid).toBe(true);
    expect(app.unmatched).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a valid proposed file: success", async () => {
    app = await startE2E();
    await openPr(app);
    mockProposed("automerge:\n  method: rebase\n");
    const check = mockConfigCheckRun();
    await app.pass();
    expect(check.body).toMatchObject({ conclusion: "success", head_sha: HEAD });
    expect(app.unmatched).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a push that does not touch the config queues nothing; a later push to a branch that did is checked again", async () => {
    app = await startE2E();
    nockToken();
    nockConfig(IN_FORCE);
    await app.deliver("push", pushEvent(["README.md"]));
    expect(await app.store.tasks.list()).toEqual([]);
    expect(await app.pass()).toMatchObject({ repos: [] });

    mockProposed("automerge:\n  method: rebase\n");
    let check = mockConfigCheckRun();
    await app.deliver("push", pushEvent([".github/bg-agent.yml"]));
    await app.pass();
    expect(check.body).toMatchObject({ conclusion: "success", head_sha: HEAD });

    // The next push only touches README.md, but the branch still carries a proposed config.
    const NEXT = "c0ffee0000000000000000000000000000000002";
    nock(API)
      .get(`/repos/${REPO}/contents/.github%2Fbg-agent.yml`)
      .query({ ref: NEXT })
      .reply(200, {
        type: "file",
        size: 9,
        encoding: "base64",
        content: Buffer.from("automerg: 1\n").toString("base64"),
      });
    nock(API)
      .get(`/repos/${REPO}/commits/${NEXT}/check-runs`)
      .query(true)
      .reply(200, { total_count: 0, check_runs: [] });
    check = {};
    nock(API)
      .post(`/repos/${REPO}/check-runs`, (b: NonNullable<typeof check.body>) => {
        check.body = b;
        return true;
      })
      .reply(201, { id: 6 });
    await app.deliver("push", pushEvent(["README.md"], NEXT));
    await app.pass();
    expect(check.body).toMatchObject({ conclusion: "failure", head_sha: NEXT });
    expect(app.unmatched).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a PR that fixes a broken config is still checked (the invalid config in force does not pause it)", async () => {
    app = await startE2E();
    nockToken();
    nockConfig({ automerg: true });
    await app.deliver("push", pushEvent([".github/bg-agent.yml"]));
    mockProposed("automerge:\n  enabled: true\n");
    const check = mockConfigCheckRun();
    const summary = await app.pass();
    expect((await app.store.repos.get(REPO))!.configValid).toBe(false);
    expect(summary.repos[0]!.processed).toMatchObject([{ type: "config_check", outcome: "done" }]);
    expect(check.body).toMatchObject({ conclusion: "success", head_sha: HEAD });
    expect(app.unmatched).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  describe("a pull request from a fork (its pushes never reach this repository)", () => {
    const forkPr = () => {
      const e = pullRequestEvent({ sha: HEAD });
      (e.pull_request.head as { repo?: { full_name: string } }).repo = {
        full_name: "mallory/demo",
      };
      return e;
    };
    const files = (names: string[]) =>
      nock(API)
        .get(`/repos/${REPO}/pulls/7/files`)
        .query(true)
        .reply(
          200,
          names.map((filename) => ({ filename, status: "modified" })),
        );

    it("changing the config: its files are listed, the file at its head is validated", async () => {
      app = await startE2E();
      nockToken();
      nockConfig(IN_FORCE);
      await app.deliver("pull_request", forkPr());
      expect(await app.store.tasks.list()).toMatchObject([
        { type: "config_check", source: "pr:7", payload: { pr: 7, headSha: HEAD } },
      ]);
      files(["README.md", ".github/bg-agent.yml"]);
      mockProposed("automerg: {}\n");
      const check = mockConfigCheckRun();
      await app.pass();
      expect(check.body).toMatchObject({ conclusion: "failure", head_sha: HEAD });
      expect(check.body!.output.summary).toContain('did you mean "automerge"?');
      expect(app.unmatched).toEqual([]);
      expect(nock.pendingMocks()).toEqual([]);
    });

    it("not changing the config: no check run, no write", async () => {
      app = await startE2E();
      nockToken();
      nockConfig(IN_FORCE);
      await app.deliver("pull_request", forkPr());
      files(["README.md"]);
      const summary = await app.pass();
      expect(summary.repos[0]!.processed).toMatchObject([
        { type: "config_check", outcome: "skipped" },
      ]);
      expect(app.unmatched).toEqual([]);
      expect(nock.pendingMocks()).toEqual([]);
    });
  });

  describe("bad input in the proposed file is said plainly (no hang, no crash)", () => {
    const bomb = (): string => {
      let t = "a: &a [x, x, x, x, x, x, x, x, x]\n";
      let prev = "a";
      for (let i = 0; i < 9; i++) {
        t += `b${i}: &b${i} [${Array(9).fill(`*${prev}`).join(", ")}]\n`;
        prev = `b${i}`;
      }
      return t;
    };
    const cases: [string, string | null, number | undefined, RegExp][] = [
      ["not YAML", "automerge: [true\nx: {\n", undefined, /is not valid YAML/],
      [
        "10 MB (refused by size; GitHub sends no content)",
        null,
        10 * 1024 * 1024,
        /is 10,485,760 bytes/,
      ],
      ["a YAML bomb", bomb(), undefined, /YAML bomb/],
      ["a list, not a mapping", "- a\n- b\n", undefined, /must be a YAML mapping/],
    ];
    for (const [what, text, size, expected] of cases)
      it(`${what}: failure naming it`, async () => {
        app = await startE2E();
        await openPr(app);
        mockProposed(text, size);
        const check = mockConfigCheckRun();
        const summary = await app.pass();
        expect(summary.repos[0]!.processed).toMatchObject([
          { type: "config_check", outcome: "done" },
        ]);
        expect(check.body!.conclusion).toBe("failure");
        expect(check.body!.output.summary).toMatch(expected);
        expect(app.unmatched).toEqual([]);
        expect(nock.pendingMocks()).toEqual([]);
      });
  });
});

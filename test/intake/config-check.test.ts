import nock from "nock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { deliver, startTestApp } from "../helpers/app-server.js";
import type { TestApp } from "../helpers/app-server.js";
import { REPO, pullRequestEvent, repository } from "../helpers/payloads.js";
import { API, nockInstallationToken, nockRawConfig } from "../helpers/github-nock.js";

const CONFIG_URL = /^\/repos\/octo\/demo\/contents\/\.github(%2F|\/)bg-agent\.yml/;
const HEAD = "d".repeat(40);

const token = nockInstallationToken;

const configFile = (yaml: string) => nockRawConfig(yaml);

/** Expects the bg-agent/config check run on HEAD; returns what was posted. */
function expectCheckRun(): { body?: Record<string, unknown> } {
  const seen: { body?: Record<string, unknown> } = {};
  nock(API)
    .get(`/repos/octo/demo/commits/${HEAD}/check-runs`)
    .query(true)
    .reply(200, { total_count: 0, check_runs: [] })
    .post("/repos/octo/demo/check-runs", (b: Record<string, unknown>) => {
      seen.body = b;
      return true;
    })
    .reply(201, { id: 9, html_url: "https://github.com/octo/demo/runs/9" });
  return seen;
}

describe("config problems are reported once per config, and stop new work", () => {
  let app: TestApp;
  beforeEach(async () => {
    app = await startTestApp();
  });
  afterEach(() => app.close());

  it("an invalid file: a failed bg-agent/config check run listing each problem, once; no work queued", async () => {
    token();
    configFile("automerge:\n  method: yolo\nbudget:\n  daily_usd: -1\n");
    nock(API)
      .get("/repos/octo/demo/branches/main")
      .reply(200, { name: "main", commit: { sha: HEAD } });
    const posted = expectCheckRun();
    expect((await deliver(app, { name: "pull_request", payload: pullRequestEvent() })).status).toBe(
      200,
    );
    expect(posted.body).toMatchObject({
      name: "bg-agent/config",
      head_sha: HEAD,
      status: "completed",
      conclusion: "failure",
    });
    const summary = String((posted.body?.output as { summary: string }).summary);
    expect(summary).toContain("`automerge.method`");
    expect(summary).toContain("`budget.daily_usd`");
    expect(await app.store.tasks.list()).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);

    // The same file again (cached): no second report, still no work.
    expect(
      (await deliver(app, { name: "pull_request", payload: pullRequestEvent({ number: 8 }) }))
        .status,
    ).toBe(200);
    expect(await app.store.tasks.list()).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a bad task only: a neutral check run, and work continues", async () => {
    token();
    configFile("tasks:\n  - name: digest\n    prompt: hi\n");
    nock(API)
      .get("/repos/octo/demo/branches/main")
      .reply(200, { name: "main", commit: { sha: HEAD } });
    const posted = expectCheckRun();
    expect((await deliver(app, { name: "pull_request", payload: pullRequestEvent() })).status).toBe(
      200,
    );
    expect(posted.body).toMatchObject({ conclusion: "neutral" });
    expect(String((posted.body?.output as { summary: string }).summary)).toContain("`tasks[0]`");
    expect(await app.store.tasks.list()).toHaveLength(1);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a YAML syntax error is a config problem too", async () => {
    token();
    configFile("automerge: [unclosed\n");
    nock(API)
      .get("/repos/octo/demo/branches/main")
      .reply(200, { name: "main", commit: { sha: HEAD } });
    const posted = expectCheckRun();
    await deliver(app, { name: "pull_request", payload: pullRequestEvent() });
    expect(posted.body).toMatchObject({ conclusion: "failure" });
    expect(await app.store.tasks.list()).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("GitHub failing to serve the file is not a config problem: defaults apply, nothing is cached or reported", async () => {
    token();
    nock(API).get(CONFIG_URL).reply(502, "bad gateway");
    expect((await deliver(app, { name: "pull_request", payload: pullRequestEvent() })).status).toBe(
      200,
    );
    expect(await app.store.tasks.list()).toHaveLength(1);
    expect((await app.store.repos.get(REPO))?.configLoadedAt ?? null).toBeNull();
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a failing check-run API never fails the webhook, and the report is retried later", async () => {
    token();
    configFile("automerge:\n  method: yolo\n");
    nock(API)
      .get("/repos/octo/demo/branches/main")
      .reply(200, { name: "main", commit: { sha: HEAD } });
    nock(API)
      .get(`/repos/octo/demo/commits/${HEAD}/check-runs`)
      .query(true)
      .reply(500, { message: "boom" });
    expect((await deliver(app, { name: "pull_request", payload: pullRequestEvent() })).status).toBe(
      200,
    );
    expect((await app.store.repos.get(REPO))?.configReportedHash ?? null).toBeNull();
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a push fixing the file on the default branch reloads it at once and reports the fix", async () => {
    // First: broken, reported.
    token();
    configFile("automerge:\n  method: yolo\n");
    nock(API)
      .get("/repos/octo/demo/branches/main")
      .reply(200, { name: "main", commit: { sha: HEAD } });
    expectCheckRun();
    await deliver(app, { name: "pull_request", payload: pullRequestEvent() });
    expect(nock.pendingMocks()).toEqual([]);
    // The fix is pushed: the cache is invalidated, the file re-read, success reported on the pushed head.
    configFile("automerge:\n  method: merge\n");
    const posted = expectCheckRun();
    const push = {
      ref: "refs/heads/main",
      before: "0".repeat(40),
      after: HEAD,
      commits: [{ id: HEAD, added: [], removed: [], modified: [".github/bg-agent.yml"] }],
      repository: repository(),
      installation: { id: 1 },
      sender: { login: "alice", type: "User" },
    };
    expect((await deliver(app, { name: "push", payload: push })).status).toBe(200);
    expect(posted.body).toMatchObject({ conclusion: "success" });
    expect(nock.pendingMocks()).toEqual([]);
    // Work flows again.
    await deliver(app, { name: "pull_request", payload: pullRequestEvent() });
    expect(await app.store.tasks.list()).toHaveLength(1);
  });
});

describe("the GitHub client a delivery gets (built only when a handler needs it)", () => {
  let app: TestApp;
  beforeEach(async () => {
    app = await startTestApp();
  });
  afterEach(() => app.close());

  it("calls GitHub as the event's installation, with the delivery id on every request; a cached config needs no call", async () => {
    const id = "6f2a4c7e-0000-4000-8000-000000000001";
    nock(API)
      .post("/app/installations/1/access_tokens")
      .matchHeader("x-github-delivery", id)
      .reply(201, {
        token: "ghs_event",
        expires_at: new Date(Date.now() + 3600_000).toISOString(),
        permissions: {},
        repository_selection: "all",
      });
    nock(API)
      .get(CONFIG_URL)
      .matchHeader("x-github-delivery", id)
      .matchHeader("authorization", "token ghs_event")
      .reply(200, "automerge:\n  method: squash\n", {
        "content-type": "application/vnd.github.raw; charset=utf-8",
      });
    expect(
      (await deliver(app, { name: "pull_request", payload: pullRequestEvent(), id })).status,
    ).toBe(200);
    expect(nock.pendingMocks()).toEqual([]);
    expect(await app.store.tasks.list()).toHaveLength(1);

    // The config is cached now: the next delivery is recorded without any request to GitHub
    // (nock refuses every connection it was not told about).
    expect(
      (await deliver(app, { name: "pull_request", payload: pullRequestEvent({ number: 8 }) }))
        .status,
    ).toBe(200);
    expect(await app.store.tasks.list()).toHaveLength(2);
  });
});

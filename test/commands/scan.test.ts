import nock from "nock";
import { describe, expect, it } from "vitest";
import { commandProcessor } from "../../src/commands/processor.js";
import { collectCommands } from "../../src/commands/scan.js";
import { parseRepo } from "../../src/integrations/github.js";
import { runPass } from "../../src/worker/pass.js";
import { testEnv, testOctokit } from "../helpers/context.js";
import { memoryStore } from "../helpers/store.js";
import { API, REPO, WRITER, mockGitHub } from "./helpers.js";

const SINCE = Date.parse("2026-11-20T00:00:00Z");
const at = (h: number) => new Date(SINCE + h * 3_600_000).toISOString();

function comment(
  id: number,
  o: { body: string; number: number; pr?: boolean; login?: string; type?: string; created: string },
) {
  return {
    id,
    body: o.body,
    html_url: `https://github.com/${REPO}/${o.pr ? "pull" : "issues"}/${o.number}#issuecomment-${id}`,
    issue_url: `${API}/repos/${REPO}/issues/${o.number}`,
    created_at: o.created,
    updated_at: o.created,
    user: { login: o.login ?? "alice", type: o.type ?? "User" },
  };
}

const LISTING = [
  // Created before the window, edited in it: not re-run.
  comment(100, { body: "/bg pause", number: 2, created: at(-5) }),
  comment(101, { body: "please\n/bg approve", number: 3, created: at(1) }),
  comment(102, { body: "/bg status", number: 4, pr: true, created: at(2) }),
  comment(103, {
    body: "/bg approve",
    number: 3,
    login: "ci-bot[bot]",
    type: "Bot",
    created: at(3),
  }),
  // bg-agent's answer to 102.
  comment(104, {
    body: "<!-- bg-agent:reply:102 -->\nstatus...",
    number: 4,
    login: "github-actions[bot]",
    type: "Bot",
    created: at(3),
  }),
  // A person cannot mark someone's command as answered.
  comment(105, { body: "<!-- bg-agent:reply:101 -->", number: 3, created: at(4) }),
  comment(106, { body: "/bg simulate", number: 8, pr: true, login: "bob", created: at(5) }),
  comment(107, { body: "just a comment", number: 3, created: at(6) }),
];

const list = () =>
  nock(API)
    .get(`/repos/${REPO}/issues/comments`)
    .query({
      sort: "updated",
      direction: "asc",
      since: new Date(SINCE).toISOString(),
      per_page: "100",
    })
    .reply(200, LISTING);

describe("collectCommands (standalone mode)", () => {
  it("queues each unanswered human command once", async () => {
    const store = await memoryStore();
    list();
    const r = await collectCommands(testOctokit(), parseRepo(REPO), store, { since: SINCE });
    expect(r).toEqual({ scanned: 8, found: 3, answered: 1, duplicate: 0, queued: 2 });
    const tasks = await store.tasks.list({ repo: REPO, type: "command" });
    expect(
      tasks
        .map((t) => [
          t.source,
          t.payload["issueNumber"],
          t.payload["isPullRequest"],
          t.payload["author"],
        ])
        .sort(),
    ).toEqual([
      ["comment:101", 3, false, "alice"],
      ["comment:106", 8, true, "bob"],
    ]);
    expect(tasks[0]!.payload["deliveryId"]).toBeNull();

    // The next run finds the same comments: nothing new is queued.
    list();
    const again = await collectCommands(testOctokit(), parseRepo(REPO), store, {
      since: new Date(SINCE),
    });
    expect(again).toMatchObject({ queued: 0, duplicate: 2 });
    expect(await store.tasks.list({ repo: REPO, type: "command" })).toHaveLength(2);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("with selfLogin, only bg-agent's own markers count", async () => {
    const store = await memoryStore();
    list();
    const r = await collectCommands(testOctokit(), parseRepo(REPO), store, {
      since: SINCE,
      selfLogin: "bg-agent[bot]",
    });
    expect(r).toMatchObject({ answered: 0, queued: 3 });
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a sweeping worker pass finds and answers a command no webhook delivered", async () => {
    const store = await memoryStore();
    nock(API)
      .get(`/repos/${REPO}/issues/comments`)
      .query(true)
      .reply(200, [
        comment(201, {
          body: "/bg pause 30m",
          number: 9,
          login: "Codertocat",
          created: new Date().toISOString(),
        }),
      ]);
    const gh = mockGitHub({ issue: 9, commentId: 201, permission: WRITER });
    await runPass(testEnv(store), [commandProcessor()], { sweep: true, repos: [REPO] });
    expect(gh.reactions).toEqual(["eyes"]);
    expect(gh.replies[0]).toContain("Paused");
    expect(await store.activity.manualPause(REPO)).toMatchObject({ pausedBy: "Codertocat" });
    expect((await store.audit.list({ repo: REPO }))[0]).toMatchObject({
      command: "pause",
      deliveryId: null,
      source: "comment:201#0",
    });
    expect(nock.pendingMocks()).toEqual([]);
  });
});

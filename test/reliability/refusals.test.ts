import nock from "nock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createProcessors } from "../../src/processors/index.js";
import { pino } from "pino";
import { Probot } from "probot";
import { BgProbotOctokit } from "../../src/integrations/probot-octokit.js";
import type { GitHubClient } from "../../src/integrations/github.js";
import { run as actionRun } from "../../action/src/main.js";
import { main as cliMain } from "../../src/cli/main.js";
import { actionEnv } from "../helpers/action-env.js";
import { runPass } from "../../src/worker/pass.js";
import { testPrivateKey } from "../helpers/app-server.js";
import { testEnv } from "../helpers/context.js";
import { memoryStore } from "../helpers/store.js";
import { answerAll, fakeGitHub, fakeOpenAI, unmatched, workspace } from "../analysis/fakes.js";
import { REPO, enqueue, env, issues, pass } from "../analysis/setup.js";
import { HEAD, mockCheckRun, mockMergedComment, mockRead } from "../automerge/fixtures.js";
import { API, inject, retryingOctokit } from "./helpers.js";

let nomatch: ReturnType<typeof unmatched>;
beforeEach(() => {
  nomatch = unmatched();
});
afterEach(() => nomatch.stop());

const MERGE = `/repos/${REPO}/pulls/7/merge`;
const merged = { sha: "m".repeat(40), merged: true, message: "Pull Request successfully merged" };

async function automergePass() {
  const store = await memoryStore();
  const e = testEnv(store, { octokit: retryingOctokit() });
  await store.tasks.enqueue({ repo: REPO, type: "automerge", source: "pr:7", payload: { pr: 7 } });
  const summary = await runPass(e, createProcessors(), { repo: REPO, mode: "automerge" });
  return { store, summary };
}

describe("a refusal is an answer: 4xx sent once, with GitHub's reason", () => {
  it("injects a 405 on the merge once: the PUT is sent exactly once (done twice: 0) and the check run says GitHub's message", async () => {
    mockRead();
    mockRead();
    const put = inject("put", MERGE, [
      [405, { message: "Pull Request is not mergeable", status: "405" }],
    ]);
    const check = mockCheckRun();
    const { store, summary } = await automergePass();
    expect(put.count).toBe(1);
    expect(check.body?.output.title).toBe("Waiting: GitHub refused the merge");
    expect(check.body?.output.summary).toContain(
      "GitHub refused the merge (405: Pull Request is not mergeable)",
    );
    expect(summary.repos[0]?.processed).toMatchObject([{ source: "pr:7", outcome: "done" }]);
    // Lost: 0 (the refusal is recorded); merged: 0.
    expect((await store.automerge.get(REPO, 7))?.state).toBe("waiting");
    expect((await store.runs.list({ repo: REPO }))[0]).toMatchObject({ status: "waiting" });
    expect(nomatch.list).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("injects a 422 (validation) on the merge once: sent once, the reason recorded", async () => {
    mockRead();
    mockRead();
    const put = inject("put", MERGE, [
      [422, { message: "Merge commits are not allowed on this repository.", status: "422" }],
    ]);
    const check = mockCheckRun();
    const { store } = await automergePass();
    expect(put.count).toBe(1);
    expect(check.body?.output.summary).toContain(
      "422: Merge commits are not allowed on this repository.",
    );
    expect((await store.automerge.get(REPO, 7))?.state).toBe("waiting");
    expect(nomatch.list).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("injects a 409 (head moved) once: sent once, the task waits without spending an attempt", async () => {
    mockRead();
    mockRead();
    const put = inject("put", MERGE, [
      [409, { message: "Head branch was modified. Review and try the merge again." }],
    ]);
    mockCheckRun();
    const { store } = await automergePass();
    expect(put.count).toBe(1);
    expect((await store.tasks.list({ repo: REPO }))[0]).toMatchObject({
      status: "pending",
      attempts: 0,
      lastError: expect.stringContaining("Head branch was modified"),
    });
    expect(nomatch.list).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("injects a 502 then a 200 on the merge: merged after one retry, once, at the head SHA (lost 0, twice 0)", async () => {
    mockRead();
    mockRead();
    const bodies: { sha?: string }[] = [];
    let puts = 0;
    nock(API)
      .put(MERGE, (b: { sha?: string }) => (bodies.push(b), true))
      .times(2)
      .reply(() => (++puts === 1 ? [502, { message: "Bad Gateway" }] : [200, merged]));
    const check = mockCheckRun();
    const comment = mockMergedComment();
    const { store, summary } = await automergePass();
    expect(puts).toBe(2);
    expect(bodies.map((b) => b.sha)).toEqual([HEAD, HEAD]);
    expect(check.body?.conclusion).toBe("success");
    expect(comment.body).toContain("<!-- bg-agent:automerge-merged:7 -->");
    expect(summary.repos[0]?.processed).toMatchObject([{ outcome: "done" }]);
    expect((await store.automerge.get(REPO, 7))?.state).toBe("merged");
    expect(
      (await store.runs.list({ repo: REPO })).filter((r) => r.status === "merged"),
    ).toHaveLength(1);
    expect(nomatch.list).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("injects a 404 for a deleted issue: asked once, the task fails for good with the reason (no retry, no label)", async () => {
    const store = await memoryStore();
    const list = issues(2);
    const gone = inject("get", `/repos/${REPO}/issues/2/comments`, [
      [404, { message: "Not Found", status: "404" }],
    ]);
    const gh = fakeGitHub(REPO, list);
    fakeOpenAI(answerAll, { times: 1 });
    await enqueue(store, list);
    await pass(env(store, { workspace: workspace(), octokit: retryingOctokit() }));
    expect(gone.count).toBe(1);
    const byIssue = new Map((await store.tasks.list({ repo: REPO })).map((t) => [t.source, t]));
    expect(byIssue.get("issue:1")).toMatchObject({ status: "done" });
    expect(byIssue.get("issue:2")).toMatchObject({
      status: "failed",
      lastError: expect.stringContaining("Not Found"),
    });
    // Nothing claims success for #2: no comment, no label written for it.
    expect(gh.writes().filter((w) => /\/issues\/2\//.test(w.path))).toEqual([]);
    // A second pass does not ask again (the failure is final).
    await pass(env(store, { workspace: workspace(), octokit: retryingOctokit() }));
    expect(gone.count).toBe(1);
    expect(nomatch.list).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });
});

describe("a refused analysis report is recorded once", () => {
  it("injects a 422 on the label (validation): sent once, the task fails for good with GitHub's message; the next pass does not resend it", async () => {
    const store = await memoryStore();
    const list = issues(1);
    const label = inject("post", `/repos/${REPO}/issues/1/labels`, [
      [422, { message: "Validation Failed", errors: [{ code: "invalid", field: "name" }] }],
    ]);
    fakeGitHub(REPO, list);
    fakeOpenAI(answerAll, { times: 1 });
    await enqueue(store, list);
    await pass(env(store, { workspace: workspace(), octokit: retryingOctokit() }));
    expect(label.count).toBe(1);
    const [t] = await store.tasks.list({ repo: REPO });
    expect(t).toMatchObject({ status: "failed" });
    expect(t!.lastError).toContain("GitHub refused the report (422: Validation Failed");
    expect((await store.runs.list({ repo: REPO }))[0]).toMatchObject({ status: "failed" });
    await pass(env(store, { workspace: workspace(), octokit: retryingOctokit() }));
    expect(label.count).toBe(1);
    expect(list[0]!.labels).not.toContain("bg:should-fix");
    expect(nomatch.list).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });
});

describe("the app's installation clients (Probot) follow the same policy", () => {
  async function installationClient(o: { throttle?: boolean } = {}): Promise<GitHubClient> {
    const probot = new Probot({
      appId: 123,
      privateKey: testPrivateKey(),
      secret: "s",
      logLevel: "fatal",
      // bg-agent's policy as shipped; only the backoff is scaled (1 ms per second) and, unless
      // asked, throttling (1 s pacing of writes) is off, so the test does not wait.
      Octokit: BgProbotOctokit.defaults((opts: Record<string, unknown>) => ({
        ...opts,
        retry: { retryAfterBaseValue: 1 },
        throttle: {
          ...(opts.throttle as object | undefined),
          ...(o.throttle ? { retryAfterBaseValue: 1 } : { enabled: false }),
        },
      })),
    });
    nock(API)
      .post("/app/installations/1/access_tokens")
      .reply(201, {
        token: "ghs_inst",
        expires_at: new Date(Date.now() + 3_600_000).toISOString(),
      });
    return (await probot.auth(1)) as GitHubClient;
  }

  it("injects a 405 on the merge: Probot's client sends it once (Probot's default would send it 4 times)", async () => {
    const octokit = await installationClient();
    const put = inject("put", MERGE, [[405, { message: "Pull Request is not mergeable" }]]);
    const err = await octokit.rest.pulls
      .merge({ owner: "octo", repo: "demo", pull_number: 7, sha: HEAD })
      .catch((e: unknown) => e as { status: number; message: string });
    expect(put.count).toBe(1);
    expect(err).toMatchObject({ status: 405, message: expect.stringContaining("not mergeable") });
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("injects a 502 then a 200: Probot's client retries once and the merge is done once", async () => {
    const octokit = await installationClient();
    const put = inject("put", MERGE, [
      [502, { message: "Bad Gateway" }],
      [200, merged],
    ]);
    const { data } = await octokit.rest.pulls.merge({
      owner: "octo",
      repo: "demo",
      pull_number: 7,
      sha: HEAD,
    });
    expect(data.merged).toBe(true);
    expect(put.count).toBe(2);
    expect(nock.pendingMocks()).toEqual([]);
  });
});

describe("the app's installation clients wait out a short secondary rate limit", () => {
  it("injects a secondary rate limit (403, retry-after: 1) on a read: Probot's client waits it out once and succeeds (logged through Probot's logger)", async () => {
    const lines: string[] = [];
    const probot = new Probot({
      appId: 123,
      privateKey: testPrivateKey(),
      secret: "s",
      log: pino({ level: "warn" }, { write: (l: string) => void lines.push(l) }),
      Octokit: BgProbotOctokit.defaults((opts: Record<string, unknown>) => ({
        ...opts,
        throttle: { ...(opts.throttle as object | undefined), retryAfterBaseValue: 1 },
      })),
    });
    nock(API)
      .post("/app/installations/1/access_tokens")
      .reply(201, {
        token: "ghs_inst",
        expires_at: new Date(Date.now() + 3_600_000).toISOString(),
      });
    const octokit = (await probot.auth(1)) as GitHubClient;
    const read = inject("get", `/repos/${REPO}/issues/1`, [
      [403, { message: "You have exceeded a secondary rate limit." }, { "retry-after": "1" }],
      [200, { number: 1, title: "t" }],
    ]);
    const { data } = await octokit.rest.issues.get({
      owner: "octo",
      repo: "demo",
      issue_number: 1,
    });
    expect(data.number).toBe(1);
    expect(read.count).toBe(2);
    expect(lines.join("")).toContain("GitHub secondary rate limit on GET");
    expect(nock.pendingMocks()).toEqual([]);
  });
});

describe("the CLI's client (as shipped, retries on) follows the same policy", () => {
  it("injects a 409 on its first read: sent once, the run fails at once with GitHub's message", async () => {
    const read = inject("get", "/repos/octo/other", [
      [409, { message: "Git Repository is empty." }],
    ]);
    let stderr = "";
    const code = await cliMain(
      ["run", "--once", "--repo", "octo/other", "--mode", "automerge"],
      { GITHUB_TOKEN: "ghp_test" },
      { stdout: () => {}, stderr: (t) => (stderr += t) },
    );
    expect(read.count).toBe(1);
    expect(code).toBe(1);
    expect(stderr).toContain("Git Repository is empty.");
    expect(nomatch.list).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("injects a 503 then a 404 on its first read: the 503 is retried, the 404 is not (2 requests)", async () => {
    const read = inject("get", "/repos/octo/other", [
      [503, { message: "Service Unavailable" }],
      [404, { message: "Not Found" }],
    ]);
    const code = await cliMain(
      ["run", "--once", "--repo", "octo/other", "--mode", "automerge"],
      { GITHUB_TOKEN: "ghp_test" },
      { stdout: () => {}, stderr: () => {} },
    );
    expect(read.count).toBe(2);
    expect(code).toBe(1);
    expect(nomatch.list).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });
});

describe("the Action's client (as shipped, retries on) follows the same policy", () => {
  it("injects a 409 on its first read: sent once, the step fails at once with GitHub's message", async () => {
    const a = actionEnv({ "github-token": "ghs_action" });
    try {
      const read = inject("get", "/repos/octo/demo", [
        [409, { message: "Git Repository is empty." }],
      ]);
      await actionRun({ processors: [] });
      expect(read.count).toBe(1);
      expect(a.failed()).toBe(true);
      expect(a.stdout()).toContain("Git Repository is empty.");
      expect(nomatch.list).toEqual([]);
      expect(nock.pendingMocks()).toEqual([]);
    } finally {
      a.restore();
    }
  });
});

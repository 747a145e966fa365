import nock from "nock";
import { afterEach, describe, expect, it } from "vitest";
import { issuesEvent } from "../helpers/payloads.js";
import {
  API,
  REPO,
  commentEvent,
  installationCreated,
  nockCommandAck,
  nockConfig,
  nockLlm,
  nockNewCheckRun,
  nockNewComment,
  nockProjectContext,
  nockRepoHead,
  nockToken,
  startE2E,
} from "./harness.js";
import type { E2E } from "./harness.js";

const SHA = "c0ffee0000000000000000000000000000000002";
const KEY = `${REPO}#3`;

let app: E2E | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

interface RepoStatusView {
  repo: string;
  state: string;
  pause: { by: string | null; until: number | null } | null;
  queue: { pending: number };
}

describe("e2e: /bg pause and /bg resume", () => {
  it("a paused repository queues a labelled issue without analysing it; /bg resume lets it run", async () => {
    app = await startE2E();
    nockToken();
    // The app is installed on the repository.
    expect(await app.deliver("installation", installationCreated())).toEqual({
      status: 200,
      body: { ok: true },
    });

    // A writer pauses bg-agent for two hours.
    const before = Date.now();
    expect(
      (await app.deliver("issue_comment", commentEvent({ id: 601, body: "/bg pause 2h" }))).status,
    ).toBe(200);
    nockConfig();
    nockCommandAck(601, "bob", "write");
    const pauseReply = nockNewComment(3, 9101);
    const first = await app.pass();
    expect(first.repos[0]!.processed).toMatchObject([{ type: "command", outcome: "done" }]);
    expect(pauseReply.bodies[0]!.body).toContain("Paused");

    const status = await app.admin<{ repos: RepoStatusView[] }>("/bg/api/status");
    expect(status.status).toBe(200);
    const demo = status.body.repos.find((r) => r.repo === REPO);
    expect(demo).toMatchObject({ state: "paused", pause: { by: "bob" } });
    expect(demo!.pause!.until).toBeGreaterThanOrEqual(before + 2 * 3_600_000);
    expect(demo!.pause!.until).toBeLessThanOrEqual(Date.now() + 2 * 3_600_000);

    // An issue labelled while paused: queued, and the next pass leaves it alone (no LLM call:
    // none is mocked, so one would show up as an unmatched request).
    expect((await app.deliver("issues", issuesEvent({ action: "labeled" }))).status).toBe(200);
    const paused = await app.pass();
    expect(paused.repos).toMatchObject([
      { repo: REPO, processed: [], skipped: expect.stringContaining("paused by bob") },
    ]);
    expect(await app.store.tasks.list({ type: "tech_debt_analysis" })).toMatchObject([
      { source: "issue:3", status: "pending", attempts: 0 },
    ]);
    expect(app.unmatched).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);

    // A writer resumes: the same pass answers the command, then analyses the issue.
    expect(
      (await app.deliver("issue_comment", commentEvent({ id: 602, body: "/bg resume" }))).status,
    ).toBe(200);
    nockCommandAck(602, "bob", "write");
    nock(API)
      .get(`/repos/${REPO}/issues/3/comments`)
      .query(true)
      .reply(200, [])
      .post(
        `/repos/${REPO}/issues/3/comments`,
        (b: { body: string }) =>
          b.body.includes("<!-- bg-agent:reply:602 -->") && b.body.includes("Resumed"),
      )
      .reply(201, { id: 9102, html_url: `https://github.com/${REPO}/issues/3#issuecomment-9102` });
    nockRepoHead(SHA);
    nockProjectContext(SHA);
    const llm = nockLlm({
      analyses: [
        {
          issue: KEY,
          should_fix: false,
          complexity: "high",
          plan: "Not worth it yet.",
          affected_files: [],
        },
      ],
    });
    const analysis = nockNewComment(3, 9103);
    nock(API)
      .post(`/repos/${REPO}/issues/3/labels`, { labels: ["bg:wont-fix"] })
      .reply(200, [{ name: "bg:wont-fix" }])
      .delete(`/repos/${REPO}/issues/3/labels/bg%3Ashould-fix`)
      .reply(404, { message: "Label does not exist" });
    const check = nockNewCheckRun("bg-agent/analysis", SHA);
    const resumed = await app.pass();
    expect(resumed.repos[0]!.processed).toMatchObject([
      { type: "command", outcome: "done" },
      { type: "tech_debt_analysis", source: "issue:3", outcome: "done" },
    ]);
    expect(llm.bodies).toHaveLength(1);
    expect(analysis.bodies[0]!.body).toContain(`<!-- bg-agent:analysis:${KEY} -->`);
    expect(check.bodies).toHaveLength(1);
    const after = await app.admin<{ repos: RepoStatusView[] }>("/bg/api/status");
    expect(after.body.repos.find((r) => r.repo === REPO)).toMatchObject({
      state: "active",
      pause: null,
    });

    const audit = await app.admin<{ entries: { command: string; actor: string }[] }>(
      "/bg/api/audit",
    );
    expect(audit.body.entries.map((e) => [e.command, e.actor]).sort()).toEqual([
      ["pause", "bob"],
      ["resume", "bob"],
    ]);
    expect(app.unmatched).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });
});

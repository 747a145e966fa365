import nock from "nock";
import { afterEach, describe, expect, it } from "vitest";
import { issuesEvent } from "../helpers/payloads.js";
import {
  API,
  REPO,
  commentEvent,
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

const SHA = "c0ffee0000000000000000000000000000000001";
const KEY = `${REPO}#3`;

let app: E2E | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

/** GitHub and the LLM for one analysis pass of issue #3 that finds it worth fixing. */
function mockAnalysisPass() {
  nockRepoHead(SHA);
  nockProjectContext(SHA);
  const llm = nockLlm({
    analyses: [
      {
        issue: KEY,
        should_fix: true,
        complexity: "low",
        plan: "Delete `LegacyCache` and its two call sites; the v2 store covers them.",
        affected_files: ["src/cache.ts"],
      },
    ],
  });
  const analysisComment = nockNewComment(3);
  const labels: string[][] = [];
  nock(API)
    .post(`/repos/${REPO}/issues/3/labels`, (b: { labels: string[] }) => {
      labels.push(b.labels);
      return true;
    })
    .reply(200, [{ name: "tech-debt" }, { name: "bg:should-fix" }])
    .delete(`/repos/${REPO}/issues/3/labels/bg%3Awont-fix`)
    .reply(404, { message: "Label does not exist" });
  const check = nockNewCheckRun("bg-agent/analysis", SHA);

  return { llm, analysisComment, labels, check };
}

describe("e2e: a tech-debt issue is analysed, and a writer approves the fix", () => {
  it("labelled issue -> one LLM call -> comment, label, check run; /bg approve -> fix queued, audited", async () => {
    // The fix itself (a clone, edits, a PR) is covered by test/fix; here the pass stops at the queue.
    app = await startE2E({ processors: (all) => all.filter((p) => p.type !== "fix") });
    nockToken();
    nockConfig();

    // 1. GitHub delivers issues.labeled: intake reads the config and queues an analysis.
    const labelled = await app.deliver("issues", issuesEvent({ action: "labeled" }));
    expect(labelled).toEqual({ status: 200, body: { ok: true } });
    expect(await app.store.tasks.list()).toMatchObject([
      { type: "tech_debt_analysis", source: "issue:3", status: "pending", payload: { key: KEY } },
    ]);

    // 2. A worker pass: project context, one LLM call, the comment, the label, the check run.
    const { llm, analysisComment, labels, check } = mockAnalysisPass();
    const first = await app.pass();
    expect(first.repos).toMatchObject([
      { repo: REPO, processed: [{ type: "tech_debt_analysis", outcome: "done" }] },
    ]);
    expect(llm.bodies).toHaveLength(1);
    expect(JSON.stringify(llm.bodies[0]!.messages)).toContain("Remove the legacy cache");
    expect(analysisComment.bodies).toHaveLength(1);
    const comment = analysisComment.bodies[0]!.body;
    expect(comment).toContain(`<!-- bg-agent:analysis:${KEY} -->`);
    expect(comment).toContain("should fix");
    expect(comment).toContain("`/bg approve`");
    expect(labels).toEqual([["bg:should-fix"]]);
    expect(check.bodies).toMatchObject([
      { name: "bg-agent/analysis", head_sha: SHA, conclusion: "neutral" },
    ]);
    expect(check.bodies[0]!.output.title).toContain("1 should fix");
    expect(await app.store.tasks.list()).toMatchObject([{ status: "done" }]);

    // bg-agent's own writes come back as webhooks: its label and its comment start nothing.
    const bot = { login: "bg-agent[bot]", type: "Bot" };
    const echoLabel = issuesEvent({ action: "labeled", labels: ["tech-debt", "bg:should-fix"] });
    expect((await app.deliver("issues", { ...echoLabel, sender: bot })).status).toBe(200);
    const echoComment = commentEvent({ id: 9000, body: comment, login: "bg-agent[bot]" });
    echoComment.comment.user.type = "Bot";
    expect((await app.deliver("issue_comment", { ...echoComment, sender: bot })).status).toBe(200);
    expect(await app.store.tasks.list()).toHaveLength(1);

    // 3. A writer comments `/bg approve` on the issue: a command task, then the next pass.
    const approve = await app.deliver(
      "issue_comment",
      commentEvent({ id: 501, body: "Looks right.\n/bg approve", login: "bob" }),
    );
    expect(approve.status).toBe(200);
    nockCommandAck(501, "bob", "write");
    const reply = nockNewComment(3, 9001);
    const second = await app.pass();
    expect(second.repos[0]!.processed).toMatchObject([{ type: "command", outcome: "done" }]);
    expect(reply.bodies).toHaveLength(1);
    expect(reply.bodies[0]!.body).toContain("<!-- bg-agent:reply:501 -->");
    expect(reply.bodies[0]!.body).toContain("A fix is queued");

    const fix = await app.store.tasks.list({ type: "fix" });
    expect(fix).toMatchObject([
      { type: "fix", source: "issue:3", status: "pending", payload: { key: KEY } },
    ]);
    expect(await app.store.tasks.list({ type: "tech_debt_analysis" })).toHaveLength(1);

    // 4. The approval is in the audit log the dashboard reads.
    const audit = await app.admin<{ entries: Record<string, unknown>[] }>("/bg/api/audit");
    expect(audit.status).toBe(200);
    expect(audit.body.entries).toMatchObject([
      {
        actor: "bob",
        repo: REPO,
        command: "approve",
        target: "issue:3",
        result: expect.stringContaining(`fix task ${fix[0]!.id} queued`),
      },
    ]);
    const anonymous = await fetch(`${app.url}/bg/api/audit`);
    expect(anonymous.status).toBe(401);

    expect(app.unmatched).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("/bg approve from someone with read permission is refused: no fix, the refusal audited", async () => {
    app = await startE2E({ processors: (all) => all.filter((p) => p.type !== "fix") });
    nockToken();
    nockConfig();
    await app.deliver("issues", issuesEvent({ action: "labeled" }));
    mockAnalysisPass();
    await app.pass();
    expect(await app.store.proposals.latest(REPO, "issue:3", "fix")).toMatchObject({
      status: "proposed",
    });

    await app.deliver(
      "issue_comment",
      commentEvent({ id: 502, body: "/bg approve", login: "eve" }),
    );
    nockCommandAck(502, "eve", "read");
    const reply = nockNewComment(3, 9002);
    await app.pass();
    expect(reply.bodies[0]!.body).toContain("needs write permission");
    expect(await app.store.tasks.list({ type: "fix" })).toEqual([]);
    expect(await app.store.proposals.latest(REPO, "issue:3", "fix")).toMatchObject({
      status: "proposed",
    });
    const audit = await app.admin<{ entries: Record<string, unknown>[] }>("/bg/api/audit");
    expect(audit.body.entries).toMatchObject([
      { actor: "eve", command: "approve", result: expect.stringMatching(/^refused/) },
    ]);
    expect(app.unmatched).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });
});

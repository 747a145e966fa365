import nock from "nock";
import { beforeEach, describe, expect, it } from "vitest";
import { commandProcessor } from "../../src/commands/processor.js";
import { collectCommands } from "../../src/commands/scan.js";
import { parseRepo } from "../../src/integrations/github.js";
import { memoryLogger } from "../../src/log.js";
import type { Logger } from "../../src/log.js";
import { renderAnalysis, githubApproveHint } from "../../src/processors/analysis/report.js";
import { readAnalysisState } from "../../src/processors/analysis/state.js";
import { sweepAnalysis } from "../../src/processors/analysis/sweep.js";
import { marker, readState, stateBlock } from "../../src/report/markers.js";
import type { Store } from "../../src/store/index.js";
import type { Task } from "../../src/core/domain.js";
import { issueContentHash } from "../../src/util/hash.js";
import { runPass } from "../../src/worker/pass.js";
import type { Processor, TaskOutcome, WorkerEnv } from "../../src/core/worker-contract.js";
import { testCtx, testEnv, testOctokit } from "../helpers/context.js";
import type { GhUser, StatefulGitHub } from "../helpers/stateful-github.js";
import { statefulGitHub } from "../helpers/stateful-github.js";
import { memoryStore } from "../helpers/store.js";

const REPO = "octo/demo";
const KEY = `${REPO}#12`;
const ALICE: GhUser = { login: "alice", type: "User" };
const ISSUE = { number: 12, title: "add() subtracts", body: "add(2, 2) is 0." };
const HASH = issueContentHash(ISSUE.title, ISSUE.body);
const PLAN = "Make add() return the sum.";
const CONFIG = { activity: { pause_when_active_minutes: 0 } };

/** A `fix` processor that records what it was handed (the real one is in test/fix). */
function stubFix(): Processor & { got: Task[] } {
  const got: Task[] = [];
  return {
    type: "fix",
    usesLlm: true,
    got,
    batchSize: () => 5,
    async process(_ctx, tasks) {
      got.push(...tasks);
      return new Map<number, TaskOutcome>(tasks.map((t) => [t.id, { status: "done" }]));
    },
  };
}

/** bg-agent's analysis comment as the analysis processor writes it (marker first, then the body). */
function analysisBody(o: { plan?: string | null; shouldFix?: boolean; hash?: string } = {}) {
  const body = renderAnalysis({
    key: KEY,
    hash: o.hash ?? HASH,
    analysis: {
      issue: KEY,
      should_fix: o.shouldFix ?? true,
      complexity: "low",
      plan: o.plan ?? PLAN,
      affected_files: ["src/math.js"],
    },
    model: "gpt-4o-mini",
    approveHint: githubApproveHint,
  });
  const full = `${marker("analysis", KEY)}\n${body}`;
  if (o.plan !== null) return full;
  // An analysis comment from before the plan was kept in the state block.
  const state = readAnalysisState(full)!;
  const { plan: _plan, ...v1 } = state;
  return full.replace(/<!-- bg-agent-state:.*? -->/s, stateBlock(v1));
}

let store: Store;
let gh: StatefulGitHub;
beforeEach(async () => {
  store = await memoryStore();
  github();
});

/** GitHub with issue 12; PATCH is intercepted only where a test expects bg-agent to edit a comment. */
function github(methods: ("get" | "post" | "patch")[] = ["get", "post"]): void {
  nock.cleanAll();
  gh = statefulGitHub({ issues: [{ ...ISSUE, labels: ["tech-debt"], state: "open" }], methods });
  gh.permissions.set("alice", "write");
}

/** The standalone way: scan the repository's comments for commands, then one pass. */
async function pass(
  o: { fix?: ReturnType<typeof stubFix>; dryRun?: boolean; selfLogin?: string; log?: Logger } = {},
) {
  await collectCommands(testOctokit(), parseRepo(REPO), store, {
    since: Date.now() - 60_000,
  });
  const env: WorkerEnv = testEnv(store, {
    config: CONFIG,
    dryRun: o.dryRun ?? false,
    ...(o.log ? { log: o.log } : {}),
  });
  if (o.selfLogin) env.selfLogin = () => o.selfLogin;
  const fix = o.fix ?? stubFix();
  const summary = await runPass(env, [commandProcessor(), fix], { repo: REPO });
  return { summary, fix };
}

const replyTo = (id: number) =>
  gh.commentsOn(12).find((c) => c.body.startsWith(marker("reply", id)))?.body ?? "";

describe("/bg approve with the fix proposal only in bg-agent's analysis comment", () => {
  it("recovers it (plan, files, hash), approves it, queues the fix with its id, and records the decision in the reply", async () => {
    gh.botComment(12, analysisBody());
    const cmd = gh.comment(12, "/bg approve", ALICE);
    const fix = stubFix();
    await pass({ fix });

    const [p] = await store.proposals.list({ repo: REPO });
    expect(p).toMatchObject({
      kind: "fix",
      target: "issue:12",
      contentHash: HASH,
      status: "approved",
      decidedBy: "alice",
      payload: { key: KEY, plan: PLAN, affectedFiles: ["src/math.js"], complexity: "low" },
    });
    expect(fix.got.map((t) => t.payload)).toEqual([
      {
        key: KEY,
        proposalId: p!.id,
        approved: {
          by: "alice",
          at: expect.any(Number),
          contentHash: HASH,
          plan: PLAN,
          affectedFiles: ["src/math.js"],
        },
      },
    ]);
    expect(replyTo(cmd.id)).toContain(`✅ Approved the fix plan (proposal ${p!.id})`);
    expect(readState(replyTo(cmd.id))).toEqual({
      v: 1,
      decisions: [
        {
          kind: "fix",
          target: "issue:12",
          hash: HASH,
          status: "approved",
          by: "alice",
          at: expect.any(Number),
        },
      ],
    });
    // One listing of the thread served the recovery and the reply.
    expect(
      gh.requests.filter(
        (r) => r.method === "GET" && r.path.startsWith(`/repos/${REPO}/issues/12/comments`),
      ),
    ).toHaveLength(1);
    expect(gh.unrouted).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("reject: recovered and rejected, the decision in the reply; no fix", async () => {
    gh.botComment(12, analysisBody());
    const cmd = gh.comment(12, "/bg reject not now", ALICE);
    const { fix } = await pass();
    expect(await store.proposals.list({ repo: REPO })).toMatchObject([
      { status: "rejected", reason: "not now" },
    ]);
    expect(fix.got).toEqual([]);
    expect(replyTo(cmd.id)).toContain("🚫 Rejected the fix plan");
    expect(readState(replyTo(cmd.id))).toMatchObject({
      decisions: [{ status: "rejected", hash: HASH, by: "alice" }],
    });
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a decision already in bg-agent's reply on the issue is not taken again (an earlier run approved it)", async () => {
    gh.botComment(12, analysisBody());
    gh.botComment(
      12,
      `${marker("reply", 4000)}\nbg-agent, replying to your comment:\n\n✅ Approved\n${stateBlock({
        v: 1,
        decisions: [
          {
            kind: "fix",
            target: "issue:12",
            hash: HASH,
            status: "approved",
            by: "bob",
            at: Date.parse("2026-03-01T10:00:00Z"),
          },
        ],
      })}`,
    );
    const cmd = gh.comment(12, "/bg approve", ALICE);
    const { fix } = await pass();

    expect(fix.got).toEqual([]);
    expect(replyTo(cmd.id)).toContain("was already approved by @\u200dbob on 2026-03-01");
    expect(readState(replyTo(cmd.id))).toBeUndefined();
    expect(await store.proposals.list({ repo: REPO })).toMatchObject([
      { status: "approved", decidedBy: "bob" },
    ]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("the app's own open proposal: a connected runner's reply that approved it is honoured, so it is not approved twice", async () => {
    const p = await store.proposals.propose({
      repo: REPO,
      kind: "fix",
      target: "issue:12",
      contentHash: HASH,
      payload: { key: KEY, plan: PLAN, affectedFiles: ["src/math.js"] },
    });
    gh.botComment(
      12,
      `${marker("reply", 4000)}\nok\n${stateBlock({
        v: 1,
        decisions: [
          { kind: "fix", target: "issue:12", hash: HASH, status: "approved", by: "bob", at: 1 },
        ],
      })}`,
      { login: "github-actions[bot]", type: "Bot" },
    );
    const cmd = gh.comment(12, "/bg approve", ALICE);
    const { fix } = await pass({ selfLogin: "bg-agent[bot]" });
    expect(fix.got).toEqual([]);
    expect(await store.proposals.get(p.id)).toMatchObject({ status: "approved", decidedBy: "bob" });
    expect(replyTo(cmd.id)).toContain("was already approved by @\u200dbob");
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a process that knows its login believes only itself and github-actions[bot], not any bot", async () => {
    gh.botComment(12, analysisBody(), { login: "renovate[bot]", type: "Bot" });
    const cmd = gh.comment(12, "/bg approve", ALICE);
    await pass({ selfLogin: "bg-agent[bot]" });
    expect(replyTo(cmd.id)).toContain("There is nothing to approve on this issue");
    expect(await store.proposals.list()).toEqual([]);

    gh.botComment(12, analysisBody(), { login: "bg-agent[bot]", type: "Bot" });
    const again = gh.comment(12, "/bg approve", ALICE);
    await pass({ selfLogin: "bg-agent[bot]" });
    expect(replyTo(again.id)).toContain("✅ Approved the fix plan");
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("an analysis comment without a plan (older bg-agent): a clear answer, no fix, and the next sweep analyses the issue again", async () => {
    github(["get", "post", "patch"]);
    const analysis = gh.botComment(12, analysisBody({ plan: null }));
    const cmd = gh.comment(12, "/bg approve", ALICE);
    const { fix } = await pass();

    expect(fix.got).toEqual([]);
    expect(await store.proposals.list()).toEqual([]);
    expect(replyTo(cmd.id)).toContain("predates bg-agent keeping the plan");
    expect(replyTo(cmd.id)).toContain("will be re-analysed");
    const state = readAnalysisState(analysis.body);
    expect(state).toMatchObject({ hash: "", reanalyse: true, should_fix: true });
    // The visible analysis is untouched.
    expect(analysis.body).toContain("### bg-agent analysis: worth fixing");

    // A second approve before the new analysis: told it is on its way, nothing else written.
    const before = gh.writes().length;
    const again = gh.comment(12, "/bg approve", ALICE);
    await pass();
    expect(replyTo(again.id)).toContain("A new analysis of this issue is on its way");
    expect(gh.writes().length - before).toBe(2); // the 👀 and the reply

    // The analysis sweep (a later run, a fresh store) queues the issue again.
    const fresh = await memoryStore();
    const r = await sweepAnalysis(await testCtx(fresh, REPO, { config: CONFIG }));
    expect(r).toMatchObject({ github: 1, enqueued: 1, current: 0 });
    expect(await fresh.tasks.list({ type: "tech_debt_analysis" })).toMatchObject([
      { source: "issue:12", contentHash: HASH },
    ]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a won't-fix analysis has no plan to approve", async () => {
    gh.botComment(12, analysisBody({ shouldFix: false }));
    const cmd = gh.comment(12, "/bg approve", ALICE);
    await pass();
    expect(replyTo(cmd.id)).toContain("found this issue not worth fixing now");
    expect(await store.proposals.list()).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("dry run: says what it would approve, writes nothing to GitHub or the store", async () => {
    github(["get"]);
    const log = memoryLogger();
    const wouldReply = () =>
      log.lines
        .filter((l) => l.msg === "dry run: would reply to the command comment")
        .map((l) => String((l.obj as { reply?: string }).reply));
    gh.botComment(12, analysisBody({ plan: null }));
    gh.comment(12, "/bg approve", ALICE);
    const { fix } = await pass({ dryRun: true, log });
    expect(wouldReply()[0]).toContain("(dry run) bg-agent's analysis of this issue predates");
    expect(gh.writes()).toEqual([]);
    expect(await store.proposals.list()).toEqual([]);
    expect(fix.got).toEqual([]);

    gh.comments.splice(0);
    gh.botComment(12, analysisBody());
    gh.comment(12, "/bg approve", ALICE);
    await pass({ dryRun: true, log });
    expect(wouldReply()[1]).toContain(
      "(dry run) Would approve the fix plan (from bg-agent's analysis comment).",
    );
    expect(gh.writes()).toEqual([]);
    expect(await store.proposals.list()).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });
});

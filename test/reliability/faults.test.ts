import nock from "nock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createLinearGateway } from "../../src/integrations/linear.js";
import { createLlm } from "../../src/llm/client.js";
import { memoryLogger } from "../../src/log.js";
import type { SqliteStore as Store } from "../../src/store/index.js";
import type { WorkerEnv } from "../../src/core/worker-contract.js";
import { createProcessors } from "../../src/processors/index.js";
import { runPass } from "../../src/worker/pass.js";
import { testEnv } from "../helpers/context.js";
import { memoryStore } from "../helpers/store.js";
import { mockRead } from "../automerge/fixtures.js";
import {
  answerAll,
  fakeGitHub,
  fakeOpenAI,
  keysOf,
  unmatched,
  workspace,
} from "../analysis/fakes.js";
import type { ChatBody } from "../analysis/fakes.js";
import { REPO, baseConfig, enqueue, env, issues, pass } from "../analysis/setup.js";
import { inject, retryingOctokit } from "./helpers.js";

/**
 * Faults injected into the real worker pass (runPass, the analysis processor, the real openai
 * client and GitHub client with bg-agent's retry policy) against nock'd GitHub, LLM and Linear.
 * Every test counts what was lost (a task neither done nor waiting/failed with a reason: 0) and
 * what was done twice (a second analysis comment, a second billed call for the same answer: 0).
 */

let nomatch: ReturnType<typeof unmatched>;
beforeEach(() => {
  nomatch = unmatched();
});
afterEach(() => nomatch.stop());

/** LLM calls recorded in the spend ledger (the calls that were billed). */
const billedCalls = (store: Store): number =>
  (
    store.db.prepare("SELECT COALESCE(SUM(calls), 0) AS n FROM spend WHERE repo = ?").get(REPO) as {
      n: number;
    }
  ).n;

const analysisComments = (i: { comments?: { body: string }[] }) =>
  (i.comments ?? []).filter((c) => c.body.includes("<!-- bg-agent:analysis:"));

const tasksBySource = async (store: Store) =>
  new Map((await store.tasks.list({ repo: REPO })).map((t) => [t.source, t]));

const faultEnv = (store: Store, o: { throttle?: boolean; config?: unknown } = {}): WorkerEnv =>
  env(store, {
    workspace: workspace(),
    octokit: retryingOctokit({ throttle: o.throttle ?? false }),
    ...(o.config ? { config: o.config } : {}),
  });

const usage = { prompt_tokens: 1000, completion_tokens: 10, total_tokens: 1010 };
const completion = (message: unknown) => ({
  status: 200,
  body: {
    id: "chatcmpl-x",
    object: "chat.completion",
    created: 1,
    model: "gpt-4o-mini",
    choices: message === undefined ? [] : [{ index: 0, finish_reason: "stop", message }],
    usage,
  },
});

describe("faults: GitHub", () => {
  it("injects a 500 twice on posting the analysis comment: retried, then posted once (lost 0, twice 0)", async () => {
    const store = await memoryStore();
    const list = issues(1);
    const post = inject("post", `/repos/${REPO}/issues/1/comments`, [
      [500, { message: "Server Error" }],
      [500, { message: "Server Error" }],
    ]);
    const gh = fakeGitHub(REPO, list);
    const llm = fakeOpenAI(answerAll, { times: 1 });
    await enqueue(store, list);
    await pass(faultEnv(store));
    expect(post.count).toBe(2);
    expect(analysisComments(list[0]!)).toHaveLength(1);
    expect(list[0]!.labels).toContain("bg:should-fix");
    expect((await tasksBySource(store)).get("issue:1")).toMatchObject({ status: "done" });
    expect(llm.calls).toHaveLength(1);
    expect(billedCalls(store)).toBe(1);
    expect(gh.checkRuns).toHaveLength(1);
    expect(nomatch.list).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("injects a 502 on all 4 tries of the comment: failed with the reason, no label; the next attempt posts once without a new LLM call", async () => {
    const store = await memoryStore();
    const list = issues(1);
    const post = inject(
      "post",
      `/repos/${REPO}/issues/1/comments`,
      Array.from({ length: 4 }, () => [502, { message: "Bad Gateway" }] as [number, unknown]),
    );
    fakeGitHub(REPO, list);
    const llm = fakeOpenAI(answerAll, { times: 1 });
    await enqueue(store, list);
    await pass(faultEnv(store));
    expect(post.count).toBe(4); // 1 + 3 retries, then given up
    const t = (await tasksBySource(store)).get("issue:1")!;
    expect(t).toMatchObject({ status: "pending", attempts: 1 });
    expect(t.lastError).toContain("could not be posted: Bad Gateway");
    expect(list[0]!.comments).toEqual([]);
    expect(list[0]!.labels).not.toContain("bg:should-fix");
    expect((await store.runs.list({ repo: REPO }))[0]).toMatchObject({ status: "failed" });
    expect(billedCalls(store)).toBe(1);

    // GitHub is back: the saved (paid-for) analysis is posted, once, with no second LLM call.
    await store.tasks.wake([t.id]);
    await pass(faultEnv(store));
    expect((await tasksBySource(store)).get("issue:1")).toMatchObject({ status: "done" });
    expect(analysisComments(list[0]!)).toHaveLength(1);
    expect(list[0]!.labels).toContain("bg:should-fix");
    expect(llm.calls).toHaveLength(1);
    expect(billedCalls(store)).toBe(1);
    expect(nomatch.list).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("injects a secondary rate limit (403, retry-after: 1) on reading the comments: waited out once, then posted once", async () => {
    const store = await memoryStore();
    const list = issues(1);
    const limited = inject("get", `/repos/${REPO}/issues/1/comments`, [
      [
        403,
        { message: "You have exceeded a secondary rate limit. Please wait a few minutes." },
        { "retry-after": "1" },
      ],
    ]);
    fakeGitHub(REPO, list);
    fakeOpenAI(answerAll, { times: 1 });
    await enqueue(store, list);
    await pass(faultEnv(store, { throttle: true }));
    expect(limited.count).toBe(1);
    expect((await tasksBySource(store)).get("issue:1")).toMatchObject({ status: "done" });
    expect(analysisComments(list[0]!)).toHaveLength(1);
    expect(billedCalls(store)).toBe(1);
    expect(nomatch.list).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("injects the secondary rate limit twice in a row: not waited out a second time; the task waits (no attempt used), nothing posted, then posts once", async () => {
    const store = await memoryStore();
    const list = issues(1);
    const limit: [number, unknown, Record<string, string>] = [
      403,
      { message: "You have exceeded a secondary rate limit." },
      { "retry-after": "1" },
    ];
    const limited = inject("get", `/repos/${REPO}/issues/1/comments`, [limit, limit]);
    fakeGitHub(REPO, list);
    const llm = fakeOpenAI(answerAll, { times: 1 });
    await enqueue(store, list);
    await pass(faultEnv(store, { throttle: true }));
    expect(limited.count).toBe(2);
    const t = (await tasksBySource(store)).get("issue:1")!;
    expect(t).toMatchObject({ status: "pending", attempts: 0 });
    expect(t.lastError).toContain("secondary rate limit");
    expect(list[0]!.comments).toEqual([]);
    expect(list[0]!.labels).not.toContain("bg:should-fix");
    await store.tasks.wake([t.id]);
    await pass(faultEnv(store, { throttle: true }));
    expect(analysisComments(list[0]!)).toHaveLength(1);
    expect(llm.calls).toHaveLength(1); // the saved answer is posted: no second call
    expect(nomatch.list).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("injects a primary rate limit (403, x-ratelimit-remaining: 0, reset in an hour) on the comment: not waited out; the task waits until the reset without using an attempt", async () => {
    const store = await memoryStore();
    const list = issues(1);
    const reset = Math.floor(Date.now() / 1000) + 3600;
    const limited = inject("post", `/repos/${REPO}/issues/1/comments`, [
      [
        403,
        { message: "API rate limit exceeded for installation ID 1." },
        { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(reset) },
      ],
    ]);
    fakeGitHub(REPO, list);
    fakeOpenAI(answerAll, { times: 1 });
    await enqueue(store, list);
    await pass(faultEnv(store, { throttle: true }));
    expect(limited.count).toBe(1);
    const t = (await tasksBySource(store)).get("issue:1")!;
    expect(t).toMatchObject({ status: "pending", attempts: 0 });
    expect(t.nextRunAt).toBe(reset * 1000 + 1000);
    expect(t.lastError).toContain("rate limit");
    expect(list[0]!.comments).toEqual([]);
    expect(billedCalls(store)).toBe(1);
    expect(nomatch.list).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });
});

describe("faults: GitHub on the merge", () => {
  it("injects a 502 on all 4 tries of the merge PUT: nothing merged, the task backs off with the reason (lost 0, merged 0)", async () => {
    const store = await memoryStore();
    const e = testEnv(store, { octokit: retryingOctokit() });
    await store.tasks.enqueue({
      repo: REPO,
      type: "automerge",
      source: "pr:7",
      payload: { pr: 7 },
    });
    mockRead();
    mockRead();
    const put = inject(
      "put",
      `/repos/${REPO}/pulls/7/merge`,
      Array.from({ length: 4 }, () => [502, { message: "Bad Gateway" }] as [number, unknown]),
    );
    await runPass(e, createProcessors(), { repo: REPO, mode: "automerge" });
    expect(put.count).toBe(4); // 1 + 3 retries, each at the evaluated head
    const [t] = await store.tasks.list({ repo: REPO });
    expect(t).toMatchObject({ status: "pending", attempts: 1 });
    expect(t!.lastError).toContain("Bad Gateway");
    expect(t!.nextRunAt).toBeGreaterThan(Date.now());
    expect((await store.automerge.get(REPO, 7))?.state).not.toBe("merged");
    expect(nomatch.list).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });
});

describe("faults: GitHub rate limit on automerge", () => {
  it("injects a primary rate limit (reset in an hour) on reading the PR: the task waits until the reset, no attempt used, nothing merged", async () => {
    const store = await memoryStore();
    const e = testEnv(store, { octokit: retryingOctokit({ throttle: true }) });
    await store.tasks.enqueue({
      repo: REPO,
      type: "automerge",
      source: "pr:7",
      payload: { pr: 7 },
    });
    const reset = Math.floor(Date.now() / 1000) + 3600;
    const read = inject("get", `/repos/${REPO}/pulls/7`, [
      [
        403,
        { message: "API rate limit exceeded for installation ID 1." },
        { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(reset) },
      ],
    ]);
    await runPass(e, createProcessors(), { repo: REPO, mode: "automerge" });
    expect(read.count).toBe(1);
    const [t] = await store.tasks.list({ repo: REPO });
    expect(t).toMatchObject({ status: "pending", attempts: 0, nextRunAt: reset * 1000 + 1000 });
    expect(t!.lastError).toContain("GitHub rate limit");
    expect(nomatch.list).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });
});

describe("faults: the LLM", () => {
  const twoIssues = async (
    answer: Parameters<typeof fakeOpenAI>[0],
    times: number,
    o: { config?: unknown; timeoutMs?: number } = {},
  ) => {
    const store = await memoryStore();
    const list = issues(2);
    const gh = fakeGitHub(REPO, list);
    const llm = fakeOpenAI(answer, { times });
    await enqueue(store, list);
    const e = faultEnv(store, o.config ? { config: o.config } : {});
    if (o.timeoutMs) {
      const timeoutMs = o.timeoutMs;
      e.createLlm = (ctx) => createLlm(ctx, { timeoutMs, maxRetries: 1 });
    }
    const summary = await pass(e);
    return { store, list, gh, llm, summary };
  };

  /** Nothing claims success: no analysis comment, no label, no task done. */
  const nothingClaimed = async (r: Awaited<ReturnType<typeof twoIssues>>) => {
    for (const i of r.list) {
      expect(analysisComments(i)).toEqual([]);
      expect(i.labels).not.toContain("bg:should-fix");
    }
    expect(await r.store.tasks.list({ repo: REPO, status: "done" })).toEqual([]);
    expect(await r.store.analyses.list(REPO)).toEqual([]);
  };

  it("injects a 429 with retry-after-ms once: waited out, then both issues analysed in one billed call", async () => {
    const r = await twoIssues(
      (body, call) =>
        call === 1
          ? {
              status: 429,
              body: { error: { message: "Rate limit reached", code: "rate_limit_exceeded" } },
              headers: { "retry-after-ms": "5" },
            }
          : answerAll(body),
      2,
    );
    expect(r.llm.calls).toHaveLength(2);
    expect(r.summary.repos[0]!.processed.map((p) => p.outcome)).toEqual(["done", "done"]);
    for (const i of r.list) expect(analysisComments(i)).toHaveLength(1);
    expect(billedCalls(r.store)).toBe(1);
    expect(nomatch.list).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("injects a 500 on every try: 3 tries (SDK retries), then both tasks fail with the reason; 0 billed", async () => {
    const r = await twoIssues(
      () => ({
        status: 500,
        body: { error: { message: "The server had an error" } },
        headers: { "retry-after-ms": "1" },
      }),
      3,
    );
    expect(r.llm.calls).toHaveLength(3);
    await nothingClaimed(r);
    for (const t of await r.store.tasks.list({ repo: REPO })) {
      expect(t).toMatchObject({ status: "pending", attempts: 1 });
      expect(t.lastError).toContain("the LLM call failed: 500");
    }
    expect(billedCalls(r.store)).toBe(0);
    expect(await r.store.spend.today(REPO)).toBe(0);
    expect(JSON.stringify(r.gh.checkRuns[0]!.output)).toContain("the LLM call failed: 500");
    expect(nomatch.list).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("injects a timeout (no answer within the client's timeout) on both tries: failed with the reason; 0 billed", async () => {
    const store = await memoryStore();
    const list = issues(2);
    fakeGitHub(REPO, list);
    nock("https://api.openai.com")
      .post("/v1/chat/completions")
      .times(2)
      .delay(1500)
      .reply(200, completion({ role: "assistant", content: "{}" }).body);
    await enqueue(store, list);
    const e = faultEnv(store);
    e.createLlm = (ctx) => createLlm(ctx, { timeoutMs: 200, maxRetries: 1 });
    await pass(e);
    for (const t of await store.tasks.list({ repo: REPO })) {
      expect(t).toMatchObject({ status: "pending", attempts: 1 });
      expect(t.lastError).toMatch(/the LLM call failed: .*timed out/i);
    }
    for (const i of list) expect(i.comments).toEqual([]);
    expect(billedCalls(store)).toBe(0);
    expect(await store.analyses.list(REPO)).toEqual([]);
    expect(nomatch.list).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("injects truncated JSON on every call: the batch call and one retry per issue (3 billed), then failed with the reason", async () => {
    const r = await twoIssues(
      (body) => JSON.stringify({ analyses: keysOf(body).map((k) => ({ issue: k })) }).slice(0, 40),
      3,
    );
    expect(r.llm.calls).toHaveLength(3);
    await nothingClaimed(r);
    for (const t of await r.store.tasks.list({ repo: REPO })) {
      expect(t.status).toBe("pending");
      expect(t.lastError).toContain("unusable twice: the answer is not JSON");
    }
    expect(billedCalls(r.store)).toBe(3);
    expect(nomatch.list).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("injects an empty choice list (choices: []) once: failed with the reason; the billed call is recorded once", async () => {
    const r = await twoIssues(() => completion(undefined), 1);
    expect(r.llm.calls).toHaveLength(1);
    await nothingClaimed(r);
    for (const t of await r.store.tasks.list({ repo: REPO }))
      expect(t.lastError).toContain("returned no choices");
    expect(billedCalls(r.store)).toBe(1);
    // The batch (and the check run's cost table) shows the billed call, as the spend ledger does.
    const [batch] = await r.store.batches.list({ repo: REPO });
    expect(batch!.costUsd).toBeCloseTo(await r.store.spend.today(REPO), 10);
    expect(batch!.costUsd).toBeGreaterThan(0);
    expect(nomatch.list).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("injects content: null on every call: each issue retried alone once, then failed; 3 billed", async () => {
    const r = await twoIssues(
      () => completion({ role: "assistant", content: null, refusal: null }),
      3,
    );
    expect(r.llm.calls).toHaveLength(3);
    await nothingClaimed(r);
    for (const t of await r.store.tasks.list({ repo: REPO }))
      expect(t.lastError).toContain("unusable twice");
    expect(billedCalls(r.store)).toBe(3);
    expect(nomatch.list).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("injects truncated JSON under a tight budget: the retries are refused before they are sent; the hard stop holds", async () => {
    // Input at $100 per million tokens: one call of ~3.8k tokens (real counts) costs ~$0.38; the
    // day allows $0.6, less than the call and a retry of the shared context.
    const config = baseConfig({
      budget: { daily_usd: 0.6, monthly_usd: 20 },
      llm: { pricing: { "gpt-4o-mini": { input: 100, cached_input: 100, output: 0 } } },
    });
    const r = await twoIssues((body: ChatBody) => answerAll(body).slice(0, 30), 1, { config });
    expect(r.llm.calls).toHaveLength(1);
    await nothingClaimed(r);
    expect(r.summary.repos[0]!.processed.map((p) => p.outcome)).toEqual(["retry", "retry"]);
    for (const p of r.summary.repos[0]!.processed) expect(p.detail).toContain("budget stop");
    expect(billedCalls(r.store)).toBe(1);
    expect(await r.store.spend.today(REPO)).toBeGreaterThan(0);
    expect(await r.store.spend.today(REPO)).toBeLessThanOrEqual(0.6);
    expect(nomatch.list).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });
});

describe("faults: Linear", () => {
  const LINEAR = "https://api.linear.app";
  const node = {
    id: "0b1e6f3a-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
    identifier: "ENG-42",
    title: "Remove the legacy retry loop",
    description: "The retry loop in src/queue.ts predates the SDK retries.",
    url: "https://linear.app/acme/issue/ENG-42",
    state: { name: "Backlog" },
    labels: { nodes: [{ name: "tech-debt" }] },
    team: { key: "ENG" },
  };
  const op = (name: string) => (b: { query: string }) => b.query.includes(name);
  const listed = {
    data: { issues: { nodes: [node], pageInfo: { hasNextPage: false, endCursor: null } } },
  };
  const config = baseConfig({
    tech_debt: {
      linear: {
        team: "ENG",
        states: ["Backlog"],
        labels: ["tech-debt"],
        analysed_state: "Triaged",
      },
    },
  });
  const linearEnv = (store: Store) => {
    const e = faultEnv(store, { config });
    e.linear = createLinearGateway({ apiKey: "lin_api_test", retryBaseMs: 1 });
    return e;
  };

  it("injects a 502 then a 200 on the sweep's list: retried once, the issue analysed and commented once", async () => {
    const store = await memoryStore();
    fakeGitHub(REPO, []);
    const comments: string[] = [];
    let lists = 0;
    nock(LINEAR)
      .post("/graphql", op("BgAgentIssues"))
      .times(2)
      .reply(() => (++lists === 1 ? [502, "Bad Gateway"] : [200, listed]))
      .post("/graphql", op("commentCreate"))
      .reply(200, (_u, b) => {
        comments.push(
          String((b as { variables: { input: { body: string } } }).variables.input.body),
        );
        return { data: { commentCreate: { success: true } } };
      })
      .post("/graphql", op("workflowStates"))
      .reply(200, { data: { workflowStates: { nodes: [{ id: "st-1", name: "Triaged" }] } } })
      .post("/graphql", op("issueUpdate"))
      .reply(200, { data: { issueUpdate: { success: true } } });
    fakeOpenAI(answerAll, { times: 1 });
    const summary = await pass(linearEnv(store), { sweep: true });
    expect(lists).toBe(2);
    expect(summary.repos[0]!.processed).toMatchObject([
      { source: "linear:ENG-42", outcome: "done" },
    ]);
    expect(comments).toHaveLength(1);
    expect(nomatch.list).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("injects a 503 on the comment (a write, not retried: it may have been created): failed with the reason, not moved, not done", async () => {
    const store = await memoryStore();
    fakeGitHub(REPO, []);
    let moved = 0;
    nock(LINEAR)
      .post("/graphql", op("BgAgentIssues"))
      .reply(200, listed)
      .post("/graphql", op("commentCreate"))
      .reply(503, "Service Unavailable");
    fakeOpenAI(answerAll, { times: 1 });
    nock(LINEAR)
      .post("/graphql", op("issueUpdate"))
      .optionally()
      .reply(200, () => (moved++, { data: { issueUpdate: { success: true } } }));
    await pass(linearEnv(store), { sweep: true });
    const t = (await tasksBySource(store)).get("linear:ENG-42")!;
    expect(t).toMatchObject({ status: "pending", attempts: 1 });
    expect(t.lastError).toMatch(/could not be posted: .*503/);
    expect(moved).toBe(0);
    expect(billedCalls(store)).toBe(1);
    expect((await store.runs.list({ repo: REPO }))[0]).toMatchObject({
      status: "failed",
      ref: "ENG-42",
    });
    nock.abortPendingRequests();
    expect(nomatch.list).toEqual([]);
  });

  it("injects GraphQL errors (200 with errors) on the comment: not retried, failed with Linear's message", async () => {
    const store = await memoryStore();
    fakeGitHub(REPO, []);
    let creates = 0;
    nock(LINEAR)
      .post("/graphql", op("BgAgentIssues"))
      .reply(200, listed)
      .post("/graphql", op("commentCreate"))
      .reply(200, () => {
        creates++;
        return {
          errors: [{ message: "Entity not found: Issue", extensions: { type: "invalid input" } }],
          data: null,
        };
      });
    fakeOpenAI(answerAll, { times: 1 });
    await pass(linearEnv(store), { sweep: true });
    expect(creates).toBe(1);
    const t = (await tasksBySource(store)).get("linear:ENG-42")!;
    expect(t.status).toBe("pending");
    expect(t.lastError).toContain("Entity not found");
    expect(await store.tasks.list({ repo: REPO, status: "done" })).toEqual([]);
    expect(nomatch.list).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("injects a 500 on every try of the sweep's list: 3 tries, the sweep is logged as failed, no task invented", async () => {
    const store = await memoryStore();
    fakeGitHub(REPO, [], ["get"]); // reads only: nothing is reported
    let lists = 0;
    nock(LINEAR)
      .post("/graphql", op("BgAgentIssues"))
      .times(3)
      .reply(() => (lists++, [500, "Internal Server Error"]));
    const e = linearEnv(store);
    const log = memoryLogger();
    e.log = log;
    const summary = await pass(e, { sweep: true });
    expect(
      log.lines.some(
        (l) =>
          l.msg === "sweep failed; queued tasks still run" &&
          JSON.stringify(l.obj).includes("Internal Server Error"),
      ),
    ).toBe(true);
    expect(lists).toBe(3);
    expect(summary.repos[0]!.processed).toEqual([]);
    expect(await store.tasks.list({ repo: REPO })).toEqual([]);
    expect(nomatch.list).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });
});

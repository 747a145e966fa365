import nock from "nock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { defaultConfig } from "../../src/config/load.js";
import { memoryLogger } from "../../src/log.js";
import { BATCH_DISCOUNT, PRICES, costOf } from "../../src/llm/pricing.js";
import { memoryStore } from "../helpers/store.js";
import type { ChatBody } from "./fakes.js";
import { answerAll, fakeGitHub, fakeOpenAI, keysOf, unmatched, workspace } from "./fakes.js";
import { REPO, baseConfig, enqueue, env, issues, pass } from "./setup.js";

let nomatch: ReturnType<typeof unmatched>;
beforeEach(() => {
  nomatch = unmatched();
});
afterEach(() => nomatch.stop());

const API = "https://api.openai.com";
const batchConfig = () => baseConfig({ tech_debt: { openai_batch: true } });

interface BatchLine {
  custom_id: string;
  method: string;
  url: string;
  body: ChatBody;
}

/** POST /v1/files and POST /v1/batches: records the uploaded JSONL lines and the job request. */
function fakeSubmit() {
  const lines: BatchLine[] = [];
  const jobs: Record<string, unknown>[] = [];
  nock(API)
    .post("/v1/files")
    .reply((_uri, body) => {
      const text = typeof body === "string" ? body : JSON.stringify(body);
      expect(text).toMatch(/name="purpose"\r\n\r\nbatch\r\n/);
      for (const m of text.matchAll(/^\{"custom_id".*\}$/gm)) lines.push(JSON.parse(m[0]));
      return [
        200,
        {
          id: "file-in",
          object: "file",
          bytes: text.length,
          created_at: 1,
          filename: "bg-agent-batch.jsonl",
          purpose: "batch",
          status: "processed",
        },
      ];
    });
  nock(API)
    .post("/v1/batches")
    .reply((_uri, body) => {
      jobs.push(body as Record<string, unknown>);
      return [200, job("validating")];
    });
  return { lines, jobs };
}

const job = (status: string, extra: Record<string, unknown> = {}) => ({
  id: "batch_abc",
  object: "batch",
  endpoint: "/v1/chat/completions",
  input_file_id: "file-in",
  completion_window: "24h",
  created_at: 1,
  status,
  ...extra,
});

const USAGE = {
  prompt_tokens: 4000,
  completion_tokens: 600,
  total_tokens: 4600,
  prompt_tokens_details: { cached_tokens: 0 },
};

/** A completed job whose output answers every issue of every uploaded line. */
function fakeCompleted(lines: BatchLine[]) {
  nock(API)
    .get("/v1/batches/batch_abc")
    .reply(200, job("completed", { output_file_id: "file-out" }));
  nock(API)
    .get("/v1/files/file-out/content")
    .reply(() => [
      200,
      lines
        .map((l, i) =>
          JSON.stringify({
            id: `batch_req_${i}`,
            custom_id: l.custom_id,
            response: {
              status_code: 200,
              request_id: `req_${i}`,
              body: {
                id: `chatcmpl-${i}`,
                object: "chat.completion",
                created: 1,
                model: l.body.model,
                choices: [
                  {
                    index: 0,
                    finish_reason: "stop",
                    message: { role: "assistant", content: answerAll(l.body), refusal: null },
                  },
                ],
                usage: USAGE,
              },
            },
            error: null,
          }),
        )
        .join("\n") + "\n",
      { "content-type": "application/octet-stream" },
    ]);
}

describe("tech_debt.openai_batch", () => {
  it("submits on one pass (nothing posted, tasks wait) and reports on the next at half price", async () => {
    const store = await memoryStore();
    const list = issues(3);
    const gh = fakeGitHub(REPO, list, ["get", "post", "patch"]);
    const sub = fakeSubmit();
    await enqueue(store, list);
    const ws = workspace();

    const first = await pass(env(store, { workspace: ws, config: batchConfig() }));
    expect(first.repos[0]!.processed.map((p) => p.outcome)).toEqual(["retry", "retry", "retry"]);
    // One JSONL line for the batch, the same request as a synchronous call.
    expect(sub.lines).toHaveLength(1);
    const [batch] = await store.batches.list({ repo: REPO });
    expect(sub.lines[0]!.custom_id).toBe(`bgb-${batch!.id}`);
    expect(sub.lines[0]!.url).toBe("/v1/chat/completions");
    expect(keysOf(sub.lines[0]!.body)).toEqual(list.map((i) => `${REPO}#${i.number}`));
    expect(sub.lines[0]!.body.response_format).toMatchObject({
      type: "json_schema",
      json_schema: { strict: true },
    });
    expect(sub.jobs[0]).toMatchObject({
      input_file_id: "file-in",
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
    });
    expect(batch).toMatchObject({ status: "submitted", externalId: "batch_abc", items: 3 });
    expect(await store.batches.submitted(REPO)).toHaveLength(1);
    const pending = await store.tasks.list({ repo: REPO, status: "pending" });
    expect(pending).toHaveLength(3);
    for (const t of pending) expect(t.nextRunAt).toBeGreaterThan(Date.now() + 50 * 60_000);
    for (const i of list) expect(i.comments).toEqual([]);
    expect(gh.writes().filter((w) => w.path.includes("/comments"))).toEqual([]);
    expect(await store.spend.today(REPO)).toBe(0);

    // Next run: the job is complete; its results are reported without a chat call.
    fakeCompleted(sub.lines);
    const second = await pass(env(store, { workspace: ws, config: batchConfig() }));
    expect(second.repos[0]!.processed.map((p) => p.outcome)).toEqual(["done", "done", "done"]);
    for (const i of list) {
      expect(i.comments?.[0]?.body).toContain(`<!-- bg-agent:analysis:${REPO}#${i.number} -->`);
      expect(i.labels).toContain("bg:should-fix");
    }
    expect(await store.tasks.list({ repo: REPO, status: "done" })).toHaveLength(3);
    const price = PRICES["openai:gpt-4o-mini"]!;
    const half = costOf(
      { promptTokens: 4000, cachedTokens: 0, completionTokens: 600 },
      price,
      BATCH_DISCOUNT,
    );
    expect(half).toBeCloseTo(
      costOf({ promptTokens: 4000, cachedTokens: 0, completionTokens: 600 }, price) / 2,
      12,
    );
    expect(await store.spend.today(REPO)).toBeCloseTo(half, 12);
    expect(await store.batches.get(batch!.id)).toMatchObject({
      status: "done",
      promptTokens: 4000,
      completionTokens: 600,
    });
    expect((await store.batches.get(batch!.id))!.costUsd).toBeCloseTo(half, 12);
    expect(await store.batches.submitted(REPO)).toEqual([]);
    const runs = await store.runs.list({ repo: REPO });
    expect(runs).toHaveLength(3);
    expect(await store.proposals.list({ repo: REPO, kind: "fix" })).toHaveLength(3);
    expect(nomatch.list).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("one pass submits the whole backlog, one job per planned batch", async () => {
    const store = await memoryStore();
    const list = issues(5);
    fakeGitHub(REPO, list);
    const lines: BatchLine[] = [];
    let n = 0;
    nock(API)
      .post("/v1/files")
      .times(3)
      .reply((_uri, body) => {
        const text = typeof body === "string" ? body : JSON.stringify(body);
        for (const m of text.matchAll(/^\{"custom_id".*\}$/gm)) lines.push(JSON.parse(m[0]));
        return [200, { id: `file-${++n}`, object: "file", purpose: "batch", status: "processed" }];
      });
    nock(API)
      .post("/v1/batches")
      .times(3)
      .reply(() => [200, { ...job("validating"), id: `batch_${n}` }]);
    await enqueue(store, list);

    const config = baseConfig({
      tech_debt: { openai_batch: true, batch_size: 2, openai_batch_size: 2 },
    });
    const first = await pass(env(store, { workspace: workspace(), config }));
    // Submitting is not a deferral: the pass goes on claiming until every issue is in a job.
    expect(first.repos[0]!.processed.map((p) => p.outcome)).toEqual(Array(5).fill("retry"));
    expect(lines.map((l) => keysOf(l.body).length)).toEqual([2, 2, 1]);
    expect((await store.batches.submitted(REPO)).map((b) => b.externalId).sort()).toEqual([
      "batch_1",
      "batch_2",
      "batch_3",
    ]);
    expect(nomatch.list).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a Batch API line holds openai_batch_size issues (40 by default), not batch_size", async () => {
    const store = await memoryStore();
    const list = issues(50);
    fakeGitHub(REPO, list);
    const lines: BatchLine[] = [];
    let n = 0;
    nock(API)
      .post("/v1/files")
      .times(2)
      .reply((_uri, body) => {
        const text = typeof body === "string" ? body : JSON.stringify(body);
        for (const m of text.matchAll(/^\{"custom_id".*\}$/gm)) lines.push(JSON.parse(m[0]));
        return [200, { id: `file-${++n}`, object: "file", purpose: "batch", status: "processed" }];
      });
    nock(API)
      .post("/v1/batches")
      .times(2)
      .reply(() => [200, { ...job("validating"), id: `batch_${n}` }]);
    await enqueue(store, list);

    const first = await pass(env(store, { workspace: workspace(), config: batchConfig() }));
    expect(first.repos[0]!.processed.map((p) => p.outcome)).toEqual(Array(50).fill("retry"));
    expect(lines.map((l) => keysOf(l.body).length)).toEqual([40, 10]);
    expect(defaultConfig().tech_debt).toMatchObject({ batch_size: 20, openai_batch_size: 40 });
    expect(nomatch.list).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a job still running leaves everything as it is", async () => {
    const store = await memoryStore();
    const list = issues(2);
    fakeGitHub(REPO, list);
    const sub = fakeSubmit();
    await enqueue(store, list);
    const ws = workspace();
    await pass(env(store, { workspace: ws, config: batchConfig() }));
    expect(sub.lines).toHaveLength(1);

    nock(API).get("/v1/batches/batch_abc").reply(200, job("in_progress"));
    const second = await pass(env(store, { workspace: ws, config: batchConfig() }));
    expect(second.repos[0]!.processed).toEqual([]);
    expect(await store.batches.submitted(REPO)).toHaveLength(1);
    expect(await store.tasks.list({ repo: REPO, status: "pending" })).toHaveLength(2);
    for (const i of list) expect(i.comments).toEqual([]);
    expect(nomatch.list).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a failed job falls back to the synchronous chat path", async () => {
    const store = await memoryStore();
    const list = issues(2);
    fakeGitHub(REPO, list, ["get", "post", "patch"]);
    const sub = fakeSubmit();
    await enqueue(store, list);
    const ws = workspace();
    await pass(env(store, { workspace: ws, config: batchConfig() }));
    expect(sub.lines).toHaveLength(1);
    const [batch] = await store.batches.list({ repo: REPO });

    nock(API)
      .get("/v1/batches/batch_abc")
      .reply(
        200,
        job("failed", {
          errors: { object: "list", data: [{ code: "invalid_request", message: "bad line" }] },
        }),
      );
    const llm = fakeOpenAI(answerAll, { times: 1 });
    const second = await pass(env(store, { workspace: ws, config: batchConfig() }));

    expect(llm.calls).toHaveLength(1);
    expect(keysOf(llm.calls[0]!)).toEqual(list.map((i) => `${REPO}#${i.number}`));
    expect(second.repos[0]!.processed.map((p) => p.outcome)).toEqual(["done", "done"]);
    for (const i of list) expect(i.comments).toHaveLength(1);
    expect(await store.batches.get(batch!.id)).toMatchObject({ status: "failed" });
    expect((await store.batches.get(batch!.id))!.error).toContain("bad line");
    // The synchronous call is priced in full.
    const sync = (await store.batches.list({ repo: REPO })).find((b) => b.id !== batch!.id)!;
    expect(sync).toMatchObject({ status: "done", externalId: null });
    expect(await store.spend.today(REPO)).toBeCloseTo(sync.costUsd, 12);
    expect(nomatch.list).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("dry-run submits nothing and records nothing", async () => {
    const store = await memoryStore();
    const list = issues(3);
    const gh = fakeGitHub(REPO, list, []);
    await enqueue(store, list);
    const summary = await pass(
      env(store, { workspace: workspace(), config: batchConfig(), dryRun: true }),
    );
    expect(summary.repos[0]!.processed.map((p) => p.outcome)).toEqual([
      "skipped",
      "skipped",
      "skipped",
    ]);
    expect(await store.batches.list({ repo: REPO })).toEqual([]);
    expect(await store.tasks.list({ repo: REPO, status: "pending" })).toHaveLength(3);
    expect(gh.writes()).toEqual([]);
    expect(nomatch.list).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("the budget is checked at the batch price before submitting", async () => {
    const ws = workspace(200);
    // Input at $100/M, output free: the estimate is the prompt's size.
    const config = (daily_usd: number) =>
      baseConfig({
        tech_debt: { openai_batch: true },
        budget: { daily_usd, monthly_usd: 20 },
        llm: { pricing: { "gpt-4o-mini": { input: 100, cached_input: 100, output: 0 } } },
      });
    const run = async (daily: number) => {
      const store = await memoryStore();
      const list = issues(2);
      fakeGitHub(REPO, list, ["get", "post"]);
      await enqueue(store, list);
      const log = memoryLogger();
      const summary = await pass(env(store, { workspace: ws, config: config(daily), log }));
      return { store, summary, log };
    };

    fakeSubmit();
    const a = await run(20);
    const est = a.log.lines.find((l) => l.msg === "OpenAI batch submitted")?.obj as {
      estimateUsd: number;
    };
    expect(est.estimateUsd).toBeGreaterThan(0);
    nock.cleanAll();

    // Between the batch estimate and the full-price one (twice as much): submitted.
    const sub = fakeSubmit();
    const b = await run(est.estimateUsd * 1.5);
    expect(sub.lines).toHaveLength(1);
    expect(await b.store.batches.submitted(REPO)).toHaveLength(1);
    nock.cleanAll();

    // Below the batch estimate: nothing is sent, the tasks wait for the next day.
    const c = await run(est.estimateUsd * 0.9);
    expect(c.summary.repos[0]!.processed.map((p) => p.outcome)).toEqual(["retry", "retry"]);
    expect(c.summary.repos[0]!.processed[0]!.detail).toContain("budget stop");
    expect(await c.store.batches.submitted(REPO)).toEqual([]);
    expect(nomatch.list).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });
});

import nock from "nock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { memoryStore } from "../helpers/store.js";
import {
  analysisFor,
  answerAll,
  fakeGitHub,
  fakeOpenAI,
  keysOf,
  unmatched,
  workspace,
} from "./fakes.js";
import { REPO, baseConfig, enqueue, env, issues, pass } from "./setup.js";

let nomatch: ReturnType<typeof unmatched>;
beforeEach(() => {
  nomatch = unmatched();
});
afterEach(() => nomatch.stop());

describe("batched analysis", () => {
  it("analyses a batch of 10 issues in ONE LLM call and reports each one", async () => {
    const store = await memoryStore();
    const list = issues(10);
    const gh = fakeGitHub(REPO, list);
    const llm = fakeOpenAI(answerAll, { times: 1 });
    await enqueue(store, list);
    const summary = await pass(env(store, { workspace: workspace() }));

    expect(llm.calls).toHaveLength(1);
    expect(keysOf(llm.calls[0]!)).toEqual(list.map((i) => `${REPO}#${i.number}`));
    // Strict structured output for OpenAI.
    expect(llm.calls[0]!.response_format).toMatchObject({
      type: "json_schema",
      json_schema: { strict: true },
    });
    expect(summary.repos[0]!.processed.map((p) => p.outcome)).toEqual(Array(10).fill("done"));
    for (const i of list) {
      expect(i.comments?.[0]?.body).toContain(`<!-- bg-agent:analysis:${REPO}#${i.number} -->`);
      expect(i.comments?.[0]?.body).toContain("`/bg approve`");
      expect(i.labels).toContain("bg:should-fix");
    }
    expect(await store.batches.list({ repo: REPO })).toHaveLength(1);
    expect(await store.analyses.list(REPO)).toHaveLength(10);
    expect(await store.runs.list({ repo: REPO })).toHaveLength(10);
    expect(await store.proposals.list({ repo: REPO, kind: "fix" })).toHaveLength(10);
    expect(await store.spend.today(REPO)).toBeGreaterThan(0);
    expect(gh.checkRuns).toHaveLength(1);
    expect(gh.checkRuns[0]!.name).toBe("bg-agent/analysis");
    expect(gh.checkRuns[0]!.output.title).toContain("Analysed 10 issue(s): 10 should fix");
    expect(nomatch.list).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("the second batch of a run reads the cached prefix and costs less", async () => {
    const store = await memoryStore();
    const list = issues(20);
    const gh = fakeGitHub(REPO, list);
    const llm = fakeOpenAI(answerAll, { times: 2 });
    await enqueue(store, list);
    const config = baseConfig({ tech_debt: { batch_size: 10 } });
    await pass(env(store, { workspace: workspace(4000), config }));

    expect(llm.calls).toHaveLength(2);
    // Byte-identical prefix: the system message (instructions + project context) is the same.
    expect(llm.calls[1]!.messages[0]!.content).toBe(llm.calls[0]!.messages[0]!.content);
    const [second, first] = await store.batches.list({ repo: REPO });
    expect(first!.cachedTokens).toBe(0);
    expect(second!.cachedTokens).toBeGreaterThan(1024);
    expect(second!.costUsd).toBeLessThan(first!.costUsd);
    // The one check run (both batches were planned from one claim) shows both and the cache hits.
    expect(gh.checkRuns).toHaveLength(1);
    expect(gh.checkRuns[0]!.output.summary).toMatch(/\| 2 \| 10 \|/);
    expect(gh.checkRuns[0]!.output.title).toContain("Analysed 20 issue(s)");
    expect(nomatch.list).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("retries a malformed or missing item alone, once; the rest of the batch is done", async () => {
    const store = await memoryStore();
    const list = issues(4);
    fakeGitHub(REPO, list);
    const keys = list.map((i) => `${REPO}#${i.number}`);
    const llm = fakeOpenAI(
      (body, call) => {
        if (call === 1) {
          // #2 malformed (bad complexity), #4 missing.
          return JSON.stringify({
            analyses: [
              analysisFor(keys[0]!),
              analysisFor(keys[1]!, { complexity: "huge" }),
              analysisFor(keys[2]!, { should_fix: false }),
            ],
          });
        }
        // Retries: #2 comes back fine, #4 is still broken.
        const [k] = keysOf(body);
        return k === keys[1]
          ? JSON.stringify({ analyses: [analysisFor(k!)] })
          : '{"analyses":[{"issue":"nope"}]}';
      },
      { times: 3 },
    );
    await enqueue(store, list);
    const summary = await pass(env(store, { workspace: workspace() }), { maxBatches: 1 });

    expect(llm.calls.map(keysOf)).toEqual([keys, [keys[1]], [keys[3]]]);
    const outcomes = Object.fromEntries(summary.repos[0]!.processed.map((p) => [p.source, p]));
    expect(outcomes["issue:1"]!.outcome).toBe("done");
    expect(outcomes["issue:2"]!.outcome).toBe("done");
    expect(outcomes["issue:3"]!.outcome).toBe("done");
    expect(outcomes["issue:4"]!.outcome).toBe("failed");
    expect(outcomes["issue:4"]!.detail).toContain("unusable twice");
    expect(list[2]!.labels).toContain("bg:wont-fix");
    expect(list[2]!.comments?.[0]?.body).not.toContain("/bg approve");
    expect(list[3]!.comments ?? []).toEqual([]);
    expect(await store.analyses.get(keys[3]!)).toBeUndefined();
    expect(nomatch.list).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("an answer cut off at the output limit is asked again in halves, not issue by issue: 8 issues, 2 more calls, 8 analyses", async () => {
    const store = await memoryStore();
    const list = issues(8);
    fakeGitHub(REPO, list);
    const keys = list.map((i) => `${REPO}#${i.number}`);
    const llm = fakeOpenAI(
      (body, call) =>
        call === 1
          ? // Cut off mid-answer: invalid JSON, finish_reason "length".
            { content: answerAll(body).slice(0, 200), finishReason: "length" }
          : answerAll(body),
      { times: 3 },
    );
    await enqueue(store, list);
    const summary = await pass(env(store, { workspace: workspace() }), { maxBatches: 1 });

    expect(llm.calls.map(keysOf)).toEqual([keys, keys.slice(0, 4), keys.slice(4)]);
    expect(summary.repos[0]!.processed.map((p) => p.outcome)).toEqual(Array(8).fill("done"));
    expect(await store.analyses.list(REPO)).toHaveLength(8);
    for (const i of list) expect(i.comments).toHaveLength(1);
    // The cut-off call is paid for: the batch's spend counts all three calls.
    const [b] = await store.batches.list({ repo: REPO });
    const sent = (c: (typeof llm.calls)[number]) =>
      Math.ceil(c.messages.map((m) => `${m.role}:${m.content}`).join("\n").length / 4);
    expect(b!.promptTokens).toBe(llm.calls.reduce((n, c) => n + sent(c), 0));
    expect(nomatch.list).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("an issue whose answer is cut off even alone fails at once, saying so; the other half is done", async () => {
    const store = await memoryStore();
    const list = issues(2);
    fakeGitHub(REPO, list);
    const keys = list.map((i) => `${REPO}#${i.number}`);
    const llm = fakeOpenAI(
      (body) =>
        keysOf(body).includes(keys[0]!)
          ? { content: answerAll(body).slice(0, 100), finishReason: "length" }
          : answerAll(body),
      { times: 3 },
    );
    await enqueue(store, list);
    const summary = await pass(env(store, { workspace: workspace() }), { maxBatches: 1 });

    expect(llm.calls.map(keysOf)).toEqual([keys, [keys[0]], [keys[1]]]);
    const outcomes = Object.fromEntries(summary.repos[0]!.processed.map((p) => [p.source, p]));
    expect(outcomes["issue:1"]).toMatchObject({ outcome: "failed" });
    expect(outcomes["issue:1"]!.detail).toContain("cut off at the output limit");
    expect(outcomes["issue:2"]!.outcome).toBe("done");
    expect(nomatch.list).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("splits a claimed batch by max_tokens_per_call", async () => {
    const store = await memoryStore();
    // About 3,000 tokens each (real counts: a run of one letter would be a few hundred).
    const words = Array.from({ length: 1_500 }, (_, i) => `word${i % 97}`).join(" ");
    const list = issues(4, 1, { body: words });
    fakeGitHub(REPO, list);
    const llm = fakeOpenAI(answerAll, { times: 2 });
    await enqueue(store, list);
    const config = baseConfig({
      tech_debt: { max_tokens_per_call: 11_000, context: { max_tokens: 2_000 } },
    });
    await pass(env(store, { workspace: workspace(500), config }), { maxBatches: 1 });
    expect(llm.calls.map((c) => keysOf(c).length)).toEqual([2, 2]);
    expect(nock.pendingMocks()).toEqual([]);
  });
});

import nock from "nock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { memoryLogger } from "../../src/log.js";
import { memoryStore } from "../helpers/store.js";
import { analysisFor, answerAll, fakeGitHub, fakeOpenAI, unmatched, workspace } from "./fakes.js";
import { REPO, baseConfig, enqueue, env, issues, pass } from "./setup.js";

let nomatch: ReturnType<typeof unmatched>;
beforeEach(() => {
  nomatch = unmatched();
});
afterEach(() => nomatch.stop());

const nextMidnightUtc = (now = Date.now()) => {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
};

/** Input tokens at $100 per million (output free): each call of ~4.5k tokens costs ~$0.45. */
const pricey = (budget: Record<string, number>) =>
  baseConfig({
    budget,
    tech_debt: { batch_size: 10 },
    llm: { pricing: { "gpt-4o-mini": { input: 100, cached_input: 100, output: 0 } } },
  });

describe("budget", () => {
  it("stops a run midway: the analysed batch is done, the rest waits for the next day, none is marked done", async () => {
    const store = await memoryStore();
    const list = issues(20);
    const gh = fakeGitHub(REPO, list);
    const llm = fakeOpenAI(answerAll, { times: 1 });
    await enqueue(store, list);
    const summary = await pass(
      env(store, {
        workspace: workspace(4000),
        config: pricey({ daily_usd: 0.7, monthly_usd: 20 }),
      }),
    );

    expect(llm.calls).toHaveLength(1);
    const outcomes = summary.repos[0]!.processed;
    expect(outcomes.filter((o) => o.outcome === "done").map((o) => o.source)).toEqual(
      list.slice(0, 10).map((i) => `issue:${i.number}`),
    );
    const waiting = outcomes.filter((o) => o.outcome === "retry");
    expect(waiting).toHaveLength(10);
    expect(waiting[0]!.detail).toContain("budget stop: the day budget is spent");

    const pending = await store.tasks.list({ repo: REPO, status: "pending" });
    expect(pending.map((t) => t.source).sort()).toEqual(
      list
        .slice(10)
        .map((i) => `issue:${i.number}`)
        .sort(),
    );
    for (const t of pending) expect(t.nextRunAt).toBe(nextMidnightUtc());
    expect(await store.tasks.list({ repo: REPO, status: "done" })).toHaveLength(10);
    expect(await store.analyses.list(REPO)).toHaveLength(10);
    for (const i of list.slice(10)) expect(i.comments).toEqual([]);
    const spent = await store.spend.today(REPO);
    expect(spent).toBeGreaterThan(0.3);
    expect(spent).toBeLessThanOrEqual(0.7);

    // One alert, on the dashboard issue, marked by period.
    expect(gh.created).toHaveLength(1);
    const dash = gh.created[0]!;
    expect(dash.comments).toHaveLength(1);
    expect(dash.comments![0]!.body).toMatch(/<!-- bg-agent:budget-alert:day:\d{4}-\d\d-\d\d -->/);
    expect(dash.comments![0]!.body).toContain("daily LLM budget");
    expect(gh.checkRuns[0]!.output.summary).toContain("Budget stop");
    expect(nomatch.list).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);

    // Later the same day: nothing is due, nothing is sent.
    const again = await pass(
      env(store, {
        workspace: workspace(4000),
        config: pricey({ daily_usd: 0.7, monthly_usd: 20 }),
      }),
    );
    expect(again.repos[0]!.processed).toEqual([]);
  });

  it("holds mid-batch: the single retry of a malformed item is refused, the item waits, the rest is done", async () => {
    const store = await memoryStore();
    const list = issues(3);
    fakeGitHub(REPO, list, ["get", "post"]);
    const keys = list.map((i) => `${REPO}#${i.number}`);
    const llm = fakeOpenAI(
      () =>
        JSON.stringify({
          analyses: [
            analysisFor(keys[0]!),
            analysisFor(keys[1]!),
            analysisFor(keys[2]!, { plan: "" }),
          ],
        }),
      { times: 1 },
    );
    await enqueue(store, list);
    const summary = await pass(
      env(store, {
        workspace: workspace(4000),
        config: pricey({ daily_usd: 0.7, monthly_usd: 20 }),
      }),
    );
    expect(llm.calls).toHaveLength(1);
    expect(summary.repos[0]!.processed.map((p) => p.outcome)).toEqual(["done", "done", "retry"]);
    expect((await store.tasks.list({ repo: REPO, status: "pending" }))[0]!.nextRunAt).toBe(
      nextMidnightUtc(),
    );
    expect(await store.analyses.get(keys[2]!)).toBeUndefined();
    expect(nomatch.list).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("honours the run cap (max-cost-usd) before the call: nothing is sent", async () => {
    const store = await memoryStore();
    const list = issues(3);
    fakeGitHub(REPO, list);
    await enqueue(store, list);
    const summary = await pass(
      env(store, {
        workspace: workspace(),
        config: pricey({ daily_usd: 100, monthly_usd: 100 }),
        runCapUsd: 0.01,
      }),
    );
    expect(
      summary.repos[0]!.processed.every(
        (p) => p.outcome === "retry" && p.detail?.includes("run budget"),
      ),
    ).toBe(true);
    expect(await store.spend.today(REPO)).toBe(0);
    expect(await store.tasks.list({ repo: REPO, status: "pending" })).toHaveLength(3);
    expect(nomatch.list).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });
});

describe("dry-run", () => {
  it("writes nothing anywhere: no GitHub writes, no LLM call, no ledger rows; tasks stay pending", async () => {
    const store = await memoryStore();
    const queued = issues(3);
    const swept = issues(2, 50);
    const gh = fakeGitHub(REPO, [...queued, ...swept], ["get"]);
    await enqueue(store, queued);
    const log = memoryLogger();
    const summary = await pass(env(store, { workspace: workspace(), dryRun: true, log }), {
      sweep: true,
    });

    expect(gh.writes()).toEqual([]);
    expect(nomatch.list).toEqual([]); // no LLM request, no write attempted
    expect(await store.analyses.list(REPO)).toEqual([]);
    expect(await store.spend.today(REPO)).toBe(0);
    expect(await store.runs.count(REPO)).toBe(0);
    expect(await store.batches.list({ repo: REPO })).toEqual([]);
    expect(await store.proposals.list({ repo: REPO })).toEqual([]);
    const tasks = await store.tasks.list({ repo: REPO });
    expect(tasks).toHaveLength(5);
    expect(tasks.every((t) => t.status === "pending" && t.attempts === 0)).toBe(true);
    expect(
      summary.repos[0]!.processed.every((p) =>
        p.detail?.startsWith("dry-run: would analyse in batch 1 of 1"),
      ),
    ).toBe(true);
    expect(
      log.lines.some((l) =>
        /dry-run: 5 issue\(s\) in 1 call\(s\), estimated at most \$0\.\d+/.test(l.msg),
      ),
    ).toBe(true);
    expect(nock.pendingMocks()).toEqual([]);
  });
});

import nock from "nock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { dayKey } from "../../src/store/spend.js";
import { memoryStore } from "../helpers/store.js";
import { answerAll, fakeGitHub, fakeOpenAI, unmatched, workspace } from "./fakes.js";
import { REPO, baseConfig, enqueue, env, issues, pass } from "./setup.js";

let nomatch: ReturnType<typeof unmatched>;
beforeEach(() => {
  nomatch = unmatched();
});
afterEach(() => nomatch.stop());

/** Input tokens at $30 per million (output free): a batch of ~4.5k tokens costs ~$0.14. */
const config = baseConfig({
  budget: { daily_usd: 1, monthly_usd: 100 },
  llm: { pricing: { "gpt-4o-mini": { input: 30, cached_input: 30, output: 0 } } },
});

describe("budget: the 80% alert", () => {
  it("crossing 80% of the daily budget posts exactly one alert on the dashboard issue; a second crossing the same day posts nothing", async () => {
    const store = await memoryStore();
    // Spent earlier today: $0.70 of $1.00.
    await store.spend.setDay(REPO, dayKey(Date.now()), 0.7);
    const first = issues(5);
    const gh = fakeGitHub(REPO, [...first, ...issues(5, 6)], ["get", "post", "patch"]);
    fakeOpenAI(answerAll, { times: 2 });
    await enqueue(store, first);
    await pass(env(store, { workspace: workspace(4000), config }));

    const spent = await store.spend.today(REPO);
    expect(spent).toBeGreaterThanOrEqual(0.8);
    expect(spent).toBeLessThan(1);
    expect(gh.created).toHaveLength(1);
    const dash = gh.created[0]!;
    expect(dash.comments).toHaveLength(1);
    expect(dash.comments![0]!.body).toMatch(/<!-- bg-agent:budget-alert:day:\d{4}-\d\d-\d\d -->/);
    expect(dash.comments![0]!.body).toContain("80% of the daily LLM budget of octo/demo is spent");

    // Later the same day, another batch: still past 80% (below 100%). Nothing is posted.
    const before = gh.requests.length;
    await enqueue(store, issues(5, 6));
    await pass(env(store, { workspace: workspace(4000), config }));
    expect(await store.spend.today(REPO)).toBeGreaterThan(spent);
    expect(await store.spend.today(REPO)).toBeLessThan(1);
    const later = gh.requests.slice(before);
    expect(later.filter((r) => r.path.includes(`/issues/${dash.number}/comments`))).toEqual([]);
    expect(gh.created).toHaveLength(1);
    expect(dash.comments).toHaveLength(1);
    expect(nomatch.list).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });
});

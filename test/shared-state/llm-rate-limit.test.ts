import nock from "nock";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { createLlm } from "../../src/llm/client.js";
import type { Clock } from "../../src/llm/rate-limit.js";
import { resetLimiters } from "../../src/llm/rate-limit.js";
import { SharedRateLimiter } from "../../src/llm/shared-rate-limit.js";
import { llmSettingsFromEnv } from "../../src/llm/settings.js";
import type { Store } from "../../src/store/index.js";
import { parseRepo } from "../../src/integrations/github.js";
import type { ProcessorContext } from "../../src/core/worker-contract.js";
import { testEnv, testOctokit } from "../helpers/context.js";
import { postgresAvailable } from "../helpers/postgres.js";
import type { TwoReplicas } from "./two-replicas.js";
import { twoReplicas } from "./two-replicas.js";
import { chatCompletionBody } from "../helpers/fake-llm.js";

const up = await postgresAvailable();

/** One clock both replicas read (as wall time is), whose sleeps pass at once and are recorded. */
function sharedClock(): Clock & { slept: number[] } {
  let t = Date.UTC(2026, 0, 5, 12);
  const slept: number[] = [];
  return {
    slept,
    now: () => t,
    sleep: async (ms) => {
      slept.push(ms);
      t += ms;
    },
  };
}

const completion = chatCompletionBody("ok", { prompt_tokens: 10, completion_tokens: 5 });
const req = {
  messages: [{ role: "user" as const, content: "hi" }],
  purpose: "t",
  maxOutputTokens: 100,
};

describe.skipIf(!up)("the LLM rate limit holds across two replicas on one PostgreSQL", () => {
  let r: TwoReplicas;
  beforeAll(async () => {
    r = await twoReplicas();
  });
  afterAll(async () => {
    await r?.close();
  });
  beforeEach(() => {
    nock.disableNetConnect();
    resetLimiters();
  });

  const ctxFor = (store: Store, repo: string, env: Record<string, string>): ProcessorContext => {
    const settings = llmSettingsFromEnv({ BG_LLM_API_KEY: "sk-test", ...env });
    if (settings instanceof Error) throw settings;
    const result = parseConfig(null);
    if (!result.ok) throw new Error("bad test config");
    const e = { ...testEnv(store), llm: settings };
    return {
      repo: parseRepo(repo),
      repoName: repo,
      octokit: testOctokit(),
      config: result.config,
      configResult: result,
      store,
      log: e.log,
      env: e,
    };
  };

  it("BG_LLM_RPM=2 on each replica: the third request of the minute waits, on whichever replica it is", async () => {
    const clock = sharedClock();
    nock("https://api.openai.com").post("/v1/chat/completions").times(4).reply(200, completion);
    const a = createLlm(ctxFor(r.a, "o/one", { BG_LLM_RPM: "2" }), { clock, maxRetries: 0 });
    const b = createLlm(ctxFor(r.b, "o/two", { BG_LLM_RPM: "2" }), { clock, maxRetries: 0 });
    await a.chat(req);
    await b.chat(req);
    expect(clock.slept).toEqual([]);
    // Per process, each replica would still have a request left; together the minute is spent.
    await a.chat(req);
    expect(clock.slept).toEqual([30_000]);
    await b.chat(req);
    expect(clock.slept).toEqual([30_000, 30_000]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a 429 on one replica holds the other back for the wait it asked", async () => {
    const clock = sharedClock();
    const limits = { rpm: 600, tpm: 1_000_000 };
    const a = new SharedRateLimiter(r.a.pace, "llm:test|429", limits, clock);
    const b = new SharedRateLimiter(r.b.pace, "llm:test|429", limits, clock);
    await a.acquire(100);
    expect(clock.slept).toEqual([]);
    // The provider answered A's request with 429, retry-after 20 s.
    await a.block(20_000);
    // B sends nothing before then (and then one request per 100 ms: the bucket starts empty).
    await b.acquire(100);
    expect(clock.slept).toEqual([20_100]);
  });
});

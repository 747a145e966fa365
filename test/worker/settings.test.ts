import nock from "nock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { readEnv } from "../../src/env.js";
import { createLlm, limitersFor } from "../../src/llm/client.js";
import type { Clock } from "../../src/llm/rate-limit.js";
import { resetLimiters } from "../../src/llm/rate-limit.js";
import { llmSettingsFromEnv } from "../../src/llm/settings.js";
import { LlmUnavailableError } from "../../src/llm/types.js";
import type { LlmSettings } from "../../src/llm/types.js";
import { parseRepo } from "../../src/integrations/github.js";
import { loopOptionsFromEnv, startWorkerLoop } from "../../src/worker/loop.js";
import type { Processor, ProcessorContext, TaskOutcome } from "../../src/core/worker-contract.js";
import { testEnv, testOctokit } from "../helpers/context.js";
import { memoryStore } from "../helpers/store.js";
import { chatCompletionBody } from "../helpers/fake-llm.js";

beforeEach(() => {
  nock.disableNetConnect();
  resetLimiters();
});
afterEach(() => {
  nock.cleanAll();
  resetLimiters();
});

describe("BG_WORKER_CONCURRENCY is honoured by the app's worker loop", () => {
  /** A processor that holds each repository's batch until released, counting repositories in flight. */
  function gate(): Processor & { maxInFlight: number; seen: number[] } {
    let inFlight = 0;
    const p = {
      type: "automerge" as const,
      usesLlm: false,
      batchSize: () => 10,
      maxInFlight: 0,
      seen: [] as number[],
      async process(_ctx: ProcessorContext, tasks: { id: number }[]) {
        inFlight++;
        p.maxInFlight = Math.max(p.maxInFlight, inFlight);
        // Several event-loop turns, so every repository the pool would start is started.
        for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
        inFlight--;
        p.seen.push(...tasks.map((t) => t.id));
        return new Map<number, TaskOutcome>(tasks.map((t) => [t.id, { status: "done" }]));
      },
    };
    return p;
  }

  for (const n of [1, 2, 3]) {
    it(`BG_WORKER_CONCURRENCY=${n}: at most ${n} of 6 repositories in flight; 0 tasks lost, 0 done twice`, async () => {
      const store = await memoryStore();
      const ids: number[] = [];
      for (let r = 1; r <= 6; r++)
        ids.push(
          (await store.tasks.enqueue({ repo: `o/r${r}`, type: "automerge", source: "pr:1" })).task
            .id,
        );
      const p = gate();
      const env = readEnv({ BG_WORKER_CONCURRENCY: String(n) });
      const loop = startWorkerLoop(testEnv(store), [p], {
        ...loopOptionsFromEnv(env),
        tickSeconds: 3600,
      });
      try {
        const summary = await loop.wake();
        expect(summary.repos).toHaveLength(6);
      } finally {
        await loop.stop();
      }
      expect(p.maxInFlight).toBe(n);
      expect([...p.seen].sort((a, b) => a - b)).toEqual(ids); // lost: 0, done twice: 0
      expect(await store.tasks.list({ status: "done" })).toHaveLength(6);
    });
  }

  it("an invalid BG_WORKER_CONCURRENCY stops start-up naming the variable", () => {
    expect(() => readEnv({ BG_WORKER_CONCURRENCY: "0" })).toThrow(/BG_WORKER_CONCURRENCY/);
    expect(() => readEnv({ BG_LLM_RPM: "many" })).toThrow(/BG_LLM_RPM/);
  });
});

describe("BG_LEASE_SECONDS is the lease of the app's worker loop's claims", () => {
  it("a claimed task is leased for BG_LEASE_SECONDS (default 10 minutes); an invalid value names the variable", async () => {
    for (const [setting, seconds] of [
      [undefined, 600],
      ["7", 7],
    ] as const) {
      const store = await memoryStore();
      const { id } = (await store.tasks.enqueue({ repo: "o/r", type: "automerge", source: "pr:1" }))
        .task;
      let lease: number | null = null;
      const p: Processor = {
        type: "automerge",
        usesLlm: false,
        batchSize: () => 10,
        async process(_ctx, tasks) {
          lease = (await store.tasks.get(id))?.leaseExpiresAt ?? null;
          return new Map<number, TaskOutcome>(tasks.map((t) => [t.id, { status: "done" }]));
        },
      };
      const env = readEnv(setting ? { BG_LEASE_SECONDS: setting } : {});
      const loop = startWorkerLoop(testEnv(store), [p], {
        ...loopOptionsFromEnv(env),
        tickSeconds: 3600,
      });
      const before = Date.now();
      try {
        await loop.wake();
      } finally {
        await loop.stop();
      }
      expect(lease).toBeGreaterThanOrEqual(before + seconds * 1000);
      expect(lease).toBeLessThanOrEqual(Date.now() + seconds * 1000);
    }
    expect(() => readEnv({ BG_LEASE_SECONDS: "1" })).toThrow(/BG_LEASE_SECONDS/);
  });
});

describe("the LLM rate limit is the app's, not the last repository's", () => {
  const fakeClock = (): Clock & { t: number; slept: number[] } => {
    const c = {
      t: 0,
      slept: [] as number[],
      now: () => c.t,
      sleep: async (ms: number) => {
        c.slept.push(ms);
        c.t += ms;
      },
    };
    return c;
  };
  const completion = chatCompletionBody("ok", { prompt_tokens: 10, completion_tokens: 5 });
  const req = {
    messages: [{ role: "user" as const, content: "hi" }],
    purpose: "test",
    maxOutputTokens: 100,
  };

  async function ctxFor(
    repo: string,
    config: unknown,
    llm: LlmSettings,
  ): Promise<ProcessorContext> {
    const store = await memoryStore();
    const result = parseConfig(config);
    if (!result.ok) throw new Error("bad test config");
    const env = { ...testEnv(store, { config }), llm };
    return {
      repo: parseRepo(repo),
      repoName: repo,
      octokit: testOctokit(),
      config: result.config,
      configResult: result,
      store,
      log: env.log,
      env,
    };
  }

  it("two repositories with different rate_limit configs cannot change the process limit (BG_LLM_RPM=2)", async () => {
    const settings = llmSettingsFromEnv({ BG_LLM_API_KEY: "sk-test", BG_LLM_RPM: "2" });
    if (settings instanceof Error) throw settings;
    expect(settings.rateLimit).toEqual({ rpm: 2, tpm: 100_000 });
    const clock = fakeClock();
    // One asks for far more than the app allows, the other for less.
    const greedy = await ctxFor(
      "o/greedy",
      { rate_limit: { rpm: 1000, tpm: 100_000_000 } },
      settings,
    );
    const modest = await ctxFor("o/modest", { rate_limit: { rpm: 1 } }, settings);
    nock("https://api.openai.com").post("/v1/chat/completions").times(4).reply(200, completion);

    const a = createLlm(greedy, { clock, maxRetries: 0 });
    await a.chat(req);
    await a.chat(req);
    expect(clock.slept).toEqual([]);
    // The third request in the minute waits for the app's bucket (2/min: 30 s), whatever the
    // greedy repository's config says.
    await a.chat(req);
    expect(clock.slept).toEqual([30_000]);

    // A repository asking for less than the app allows does not lower the process's limit.
    const b = createLlm(modest, { clock, maxRetries: 0 });
    await b.chat(req);
    expect(limitersFor(greedy, settings, clock).process.limits.rpm).toBe(2);
    expect(limitersFor(modest, settings, clock).process.limits.rpm).toBe(2);
    expect(limitersFor(greedy, settings, clock).repo).toBeNull();
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a repository's rate_limit lowers only its own share (app 100/min, the modest one 1/min)", async () => {
    const settings = llmSettingsFromEnv({ BG_LLM_API_KEY: "sk-test", BG_LLM_RPM: "100" });
    if (settings instanceof Error) throw settings;
    const clock = fakeClock();
    const greedy = await ctxFor("o/greedy", { rate_limit: { rpm: 1000 } }, settings);
    const modest = await ctxFor("o/modest", { rate_limit: { rpm: 1 } }, settings);
    nock("https://api.openai.com").post("/v1/chat/completions").times(5).reply(200, completion);
    const b = createLlm(modest, { clock, maxRetries: 0 });
    await b.chat(req);
    await b.chat(req); // its own 1/min: waits a minute
    expect(clock.slept).toEqual([60_000]);
    const a = createLlm(greedy, { clock, maxRetries: 0 });
    for (let i = 0; i < 3; i++) await a.chat(req); // the other repository is not slowed down
    expect(clock.slept).toEqual([60_000]);
    expect(limitersFor(modest, settings, clock).repo?.limits.rpm).toBe(1);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("bad BG_LLM_RPM / BG_LLM_TPM values are reported with what to set, not used", () => {
    const r = llmSettingsFromEnv({ BG_LLM_API_KEY: "k", BG_LLM_TPM: "12" });
    expect(r).toBeInstanceOf(LlmUnavailableError);
    expect((r as Error).message).toMatch(/BG_LLM_TPM.*at least 100/);
  });

  it("old configs with rate_limit and worker.concurrency stay valid", () => {
    const r = parseConfig({ rate_limit: { rpm: 60, tpm: 200_000 }, worker: { concurrency: 8 } });
    expect(r.ok).toBe(true);
  });
});

import { resetLimiters } from "../../src/llm/rate-limit.js";
import { createProcessors } from "../../src/processors/index.js";
import type { Store } from "../../src/store/index.js";
import { hashOf } from "../../src/util/hash.js";
import type { PassOptions } from "../../src/worker/pass.js";
import { runPass } from "../../src/worker/pass.js";
import type { WorkerEnv } from "../../src/core/worker-contract.js";
import type { TestEnvOptions } from "../helpers/context.js";
import { testEnv } from "../helpers/context.js";
import type { FakeIssue } from "./fakes.js";

export const REPO = "octo/demo";

/** A config for tests: generous rate limits, so the shared limiter never waits. */
export const baseConfig = (over: Record<string, unknown> = {}) => ({
  rate_limit: { rpm: 10_000, tpm: 100_000_000 },
  activity: { pause_when_active_minutes: 0 },
  ...over,
});

export function issues(n: number, from = 1, extra: Partial<FakeIssue> = {}): FakeIssue[] {
  return Array.from({ length: n }, (_, i) => ({
    number: from + i,
    title: `Refactor module ${from + i}`,
    body: `The module ${from + i} duplicates logic from the queue; it should reuse Queue.`,
    labels: ["tech-debt"],
    comments: [],
    ...extra,
  }));
}

/** Queues issues as intake would (the same contract as the sweep). */
export async function enqueue(store: Store, list: FakeIssue[]): Promise<void> {
  for (const i of list) {
    await store.tasks.enqueue({
      repo: REPO,
      type: "tech_debt_analysis",
      source: `issue:${i.number}`,
      payload: {
        key: `${REPO}#${i.number}`,
        number: i.number,
        title: i.title,
        body: i.body,
        labels: i.labels,
      },
      contentHash: hashOf({ title: i.title, body: i.body }),
    });
  }
}

export function env(store: Store, o: TestEnvOptions = {}): WorkerEnv {
  resetLimiters();
  return testEnv(store, { config: baseConfig(), ...o });
}

export const pass = (e: WorkerEnv, o: PassOptions = {}) =>
  runPass(e, createProcessors(), { repo: REPO, mode: "analyze", ...o });

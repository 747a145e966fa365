import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createPromptTaskProcessor } from "../../src/processors/prompt-task/index.js";
import type { Store } from "../../src/store/index.js";
import { startWorkerLoop } from "../../src/worker/loop.js";
import type { WorkerLoop } from "../../src/worker/loop.js";
import type { PassOptions } from "../../src/worker/pass.js";
import type { PassSummary } from "../../src/core/worker-contract.js";
import { testEnv } from "../helpers/context.js";
import { fakeLlm } from "../helpers/fake-llm.js";
import { memoryStore } from "../helpers/store.js";
import { REPO, t } from "./helpers.js";

let store: Store;
let loop: WorkerLoop | undefined;
/** Every gate a gated pass is waiting on, so a failed test never leaves a pass hanging. */
const gates: (() => void)[] = [];

beforeEach(async () => {
  vi.useFakeTimers();
  vi.setSystemTime(t("2025-03-03T10:00:00Z"));
  store = await memoryStore();
});
afterEach(async () => {
  gates.forEach((g) => g());
  await loop?.stop();
  loop = undefined;
  vi.useRealTimers();
});

/** A pass that stays open until released, recording overlap. */
function gatedPass() {
  const state = {
    started: 0,
    active: 0,
    maxActive: 0,
    options: [] as PassOptions[],
    release: [] as (() => void)[],
  };
  const fn = async (_env: unknown, _p: unknown, opts: PassOptions = {}): Promise<PassSummary> => {
    state.started++;
    state.active++;
    state.maxActive = Math.max(state.maxActive, state.active);
    state.options.push(opts);
    await new Promise<void>((resolve) => {
      state.release.push(resolve);
      gates.push(resolve);
    });
    state.active--;
    return { startedAt: Date.now(), finishedAt: Date.now(), repos: [] };
  };
  return { state, fn };
}

const flush = () => vi.advanceTimersByTimeAsync(0);

describe("worker loop", () => {
  it("never overlaps passes: wakes during a pass share one follow-up pass", async () => {
    const { state, fn } = gatedPass();
    loop = startWorkerLoop(testEnv(store), [], { tickSeconds: 30, runPass: fn as never });
    const first = loop.wake();
    await flush();
    const second = loop.wake();
    const third = loop.wake();
    expect(second).toBe(third);
    await flush();
    expect(state.started).toBe(1);
    state.release.shift()!();
    await first;
    await flush();
    expect(state.started).toBe(2);
    state.release.shift()!();
    await second;
    expect(state.maxActive).toBe(1);
    expect(state.started).toBe(2);
  });

  it("runs a pass every tick (skipping ticks while one runs) and sweeps every sweepMinutes", async () => {
    const { state, fn } = gatedPass();
    await store.repos.upsert({ fullName: "octo/installed" });
    loop = startWorkerLoop(testEnv(store), [], {
      tickSeconds: 30,
      sweepMinutes: 10,
      runPass: fn as never,
    });
    await vi.advanceTimersByTimeAsync(29_000);
    expect(state.started).toBe(0);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(state.started).toBe(1);
    expect(state.options[0]).toMatchObject({ sweep: true, repos: ["octo/installed"] });
    await vi.advanceTimersByTimeAsync(90_000); // the pass is still running: ticks skip
    expect(state.started).toBe(1);
    state.release.shift()!();
    await vi.advanceTimersByTimeAsync(30_000);
    expect(state.started).toBe(2);
    expect(state.options[1]).toMatchObject({ sweep: false });
    // Ten more minutes of ticks, each pass finishing quickly: one of them sweeps again.
    for (let i = 0; i < 20; i++) {
      state.release.splice(0).forEach((r) => r());
      await vi.advanceTimersByTimeAsync(30_000);
    }
    expect(state.options.slice(2).filter((o) => o.sweep)).toHaveLength(1);
    expect(state.maxActive).toBe(1);
  });

  it("stop waits for the running pass and refuses new wakes", async () => {
    const { state, fn } = gatedPass();
    loop = startWorkerLoop(testEnv(store), [], { tickSeconds: 30, runPass: fn as never });
    const running = loop.wake();
    const queued = loop.wake();
    await flush();
    let stopped = false;
    const stopping = loop.stop().then(() => (stopped = true));
    await flush();
    expect(stopped).toBe(false);
    state.release.shift()!();
    await running;
    await expect(queued).rejects.toThrow(/stopped/);
    await stopping;
    expect(stopped).toBe(true);
    expect(state.started).toBe(1);
    await expect(loop.wake()).rejects.toThrow(/stopped/);
  });

  it("wake runs what is due from the store alone (scale to zero: no timer needed)", async () => {
    const env = testEnv(store, {
      config: { tasks: [{ name: "digest", prompt: "p", every: "1h", notify: "never" }] },
      llm: fakeLlm(["first", "second"]),
    });
    // A first app process synced the schedule and ran it, then went away.
    const a = startWorkerLoop(env, [createPromptTaskProcessor()], {
      tickSeconds: 3600,
      pass: { repo: REPO },
    });
    await a.wake();
    await a.stop();
    // Much later, a new process is woken (POST /bg/api/wake) before its timer ever fired.
    vi.setSystemTime(Date.now() + 3 * 3600_000);
    loop = startWorkerLoop(env, [createPromptTaskProcessor()], { tickSeconds: 3600 });
    const summary = await loop.wake();
    expect(summary.repos.flatMap((r) => r.processed.map((p) => p.source))).toEqual([
      "schedule:digest",
    ]);
    expect((await store.runs.list({ repo: REPO })).map((r) => r.summary)).toEqual([
      "second",
      "first",
    ]);
  });
});

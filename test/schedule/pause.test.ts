import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createPromptTaskProcessor } from "../../src/processors/prompt-task/index.js";
import { enqueueManualRun } from "../../src/schedule/manual.js";
import { syncSchedules } from "../../src/schedule/sync.js";
import type { Store } from "../../src/store/index.js";
import type { Task, TaskType } from "../../src/core/domain.js";
import { runPass } from "../../src/worker/pass.js";
import type { PassSummary, Processor, TaskOutcome } from "../../src/core/worker-contract.js";
import { testEnv } from "../helpers/context.js";
import { fakeLlm } from "../helpers/fake-llm.js";
import { memoryStore } from "../helpers/store.js";
import { MIN, REPO, t, tasksOf } from "./helpers.js";

let store: Store;
let order: string[];

beforeEach(async () => {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(t("2025-03-03T10:00:00Z"));
  store = await memoryStore();
  order = [];
});
afterEach(() => {
  vi.useRealTimers();
});

const advance = (ms: number) => vi.setSystemTime(Date.now() + ms);

/** A stand-in processor that records what it ran. */
function recorder(type: TaskType, usesLlm: boolean): Processor {
  return {
    type,
    usesLlm,
    batchSize: () => 10,
    async process(_ctx, tasks: Task[]) {
      order.push(...tasks.map((x) => `${type}:${x.source}`));
      return new Map<number, TaskOutcome>(tasks.map((x) => [x.id, { status: "done" }]));
    },
  };
}

const tasks = [{ name: "digest", prompt: "Summarise.", every: "30m", notify: "never" }];

async function pass(config: Record<string, unknown> = {}): Promise<PassSummary> {
  const llm = fakeLlm(
    Array.from({ length: 5 }, () => () => {
      order.push("llm");
      return "ok";
    }),
  );
  const env = testEnv(store, { config: { tasks, ...config }, llm });
  const processors = [
    createPromptTaskProcessor(),
    recorder("automerge", false),
    recorder("command", false),
  ];
  return runPass(env, processors, { repo: REPO });
}

async function queueWork(): Promise<void> {
  await store.tasks.enqueue({ repo: REPO, type: "automerge", source: "pr:1" });
  await store.tasks.enqueue({ repo: REPO, type: "command", source: "comment:5" });
}

describe("activity-aware pausing", () => {
  it("defers LLM work while people are active; automerge and commands go on; commands first", async () => {
    await store.activity.recordHuman(REPO, "alice");
    await queueWork();
    const s = await pass();
    expect(order).toEqual(["command:comment:5", "automerge:pr:1"]);
    expect(s.repos[0]?.skipped).toMatch(/people are active/);

    advance(4 * MIN);
    await pass();
    expect(order).not.toContain("llm");

    advance(MIN); // 5 quiet minutes (activity.pause_when_active_minutes default)
    await pass();
    expect(order).toContain("llm");
    expect(await store.runs.list({ repo: REPO, kind: "prompt_task" })).toHaveLength(1);
  });

  it("defers automerge too when the config says so", async () => {
    await store.activity.recordHuman(REPO, "alice");
    await queueWork();
    await pass({ automerge: { pause_when_active: true } });
    expect(order).toEqual(["command:comment:5"]);
  });

  it("honours pause_when_active_minutes: 0 (never defer)", async () => {
    await store.activity.recordHuman(REPO, "alice");
    await pass({ activity: { pause_when_active_minutes: 0 } });
    expect(order).toEqual(["llm"]);
  });
});

describe("requested runs (/bg run)", () => {
  it("run while people are active (asking is activity), scheduled runs still wait", async () => {
    await syncSchedules(
      store,
      REPO,
      tasksOf([...tasks, { name: "other", prompt: "p", every: "1h", notify: "never" }]),
    );
    await store.activity.recordHuman(REPO, "alice");
    expect(await enqueueManualRun(store, REPO, "other", "alice")).toMatchObject({
      ok: true,
      created: true,
    });
    await pass({ tasks: [...tasks, { name: "other", prompt: "p", every: "1h", notify: "never" }] });
    expect(order).toEqual(["llm"]);
    expect((await store.runs.list({ repo: REPO })).map((r) => r.ref)).toEqual(["task:other"]);
    expect(await enqueueManualRun(store, REPO, "nope", "alice")).toMatchObject({ ok: false });
  });

  it("wait through a manual pause", async () => {
    await syncSchedules(store, REPO, tasksOf(tasks));
    await store.activity.pause(REPO, "bob", null);
    await enqueueManualRun(store, REPO, "digest", "alice");
    await pass();
    expect(order).toEqual([]);
  });
});

describe("manual pause (/bg pause)", () => {
  it("stops everything but commands, and ends by itself when it expires", async () => {
    await store.activity.pause(REPO, "alice", Date.now() + 60 * MIN, "release freeze");
    await queueWork();
    const s = await pass();
    expect(order).toEqual(["command:comment:5"]);
    expect(s.repos[0]?.skipped).toMatch(/paused by alice until/);

    advance(59 * MIN);
    await pass();
    expect(order).toEqual(["command:comment:5"]);

    advance(MIN);
    await pass();
    expect(order).toEqual(["command:comment:5", "automerge:pr:1", "llm"]);
    expect((await store.activity.get(REPO)).paused).toBe(false);
  });

  it("a pause of every repository (*) without an end holds until resumed", async () => {
    await store.activity.pause("*", "admin", null);
    await queueWork();
    advance(7 * 24 * 60 * MIN);
    await pass();
    expect(order).toEqual(["command:comment:5"]);
    await store.activity.resume("*");
    await pass();
    expect(order).toEqual(["command:comment:5", "automerge:pr:1", "llm"]);
  });

  it("the schedule keeps its due slot while paused and runs once when the pause ends", async () => {
    await store.activity.pause(REPO, "alice", null);
    await pass(); // nothing synced or queued while paused
    advance(3 * 60 * MIN);
    await store.activity.resume(REPO);
    await pass();
    expect(order.filter((x) => x === "llm")).toHaveLength(1);
  });
});

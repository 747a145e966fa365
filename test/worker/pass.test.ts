import { describe, expect, it } from "vitest";
import type { RepoConfig } from "../../src/config/schema.js";
import type { Task, TaskType } from "../../src/core/domain.js";
import { parseConfig } from "../../src/config/load.js";
import { processorTimeoutMs } from "../../src/worker/deadline.js";
import { runPass } from "../../src/worker/pass.js";
import { captureOutcomes } from "../../src/worker/runner.js";
import type { Processor, ProcessorContext, TaskOutcome } from "../../src/core/worker-contract.js";
import { testEnv } from "../helpers/context.js";
import { memoryStore } from "../helpers/store.js";

function recorder(
  type: TaskType,
  decide: (t: Task) => TaskOutcome | Error = () => ({ status: "done" }),
  usesLlm = false,
): Processor & { seen: number[][] } {
  const seen: number[][] = [];
  return {
    type,
    usesLlm,
    seen,
    batchSize: (c: RepoConfig) => c.tech_debt.batch_size,
    async process(_ctx: ProcessorContext, tasks: Task[]) {
      seen.push(tasks.map((t) => t.id));
      const out = new Map<number, TaskOutcome>();
      for (const t of tasks) {
        const d = decide(t);
        if (d instanceof Error) throw d;
        out.set(t.id, d);
      }
      return out;
    },
  };
}

describe("runPass", () => {
  it("groups due tasks of a repository into batches of the configured size", async () => {
    const store = await memoryStore();
    for (let i = 1; i <= 12; i++)
      await store.tasks.enqueue({ repo: "o/r", type: "tech_debt_analysis", source: `issue:${i}` });
    const p = recorder("tech_debt_analysis");
    const summary = await runPass(testEnv(store, { config: { tech_debt: { batch_size: 5 } } }), [
      p,
    ]);
    expect(p.seen.map((b) => b.length)).toEqual([5, 5, 2]);
    expect(summary.repos[0]?.processed).toHaveLength(12);
    expect(await store.tasks.list({ status: "done" })).toHaveLength(12);
  });

  it("runs commands before merges and analysis", async () => {
    const store = await memoryStore();
    await store.tasks.enqueue({ repo: "o/r", type: "tech_debt_analysis", source: "issue:1" });
    await store.tasks.enqueue({ repo: "o/r", type: "automerge", source: "pr:2" });
    await store.tasks.enqueue({ repo: "o/r", type: "command", source: "comment:3" });
    const order: string[] = [];
    const mk = (t: TaskType) => recorder(t, () => (order.push(t), { status: "done" }));
    await runPass(testEnv(store), [mk("tech_debt_analysis"), mk("automerge"), mk("command")]);
    expect(order).toEqual(["command", "automerge", "tech_debt_analysis"]);
  });

  it("a batch that throws leaves its tasks to be retried, never done", async () => {
    const store = await memoryStore();
    await store.tasks.enqueue({ repo: "o/r", type: "automerge", source: "pr:1" });
    await runPass(testEnv(store), [recorder("automerge", () => new Error("boom"))]);
    const [t] = await store.tasks.list();
    expect(t).toMatchObject({ status: "pending", lastError: "boom", attempts: 1 });
    expect(t!.nextRunAt).toBeGreaterThan(Date.now());
  });

  it("a retry outcome puts the task back without spending an attempt", async () => {
    const store = await memoryStore();
    await store.tasks.enqueue({ repo: "o/r", type: "automerge", source: "pr:1" });
    const at = Date.now() + 60_000;
    await runPass(testEnv(store), [
      recorder("automerge", () => ({ status: "retry", at, reason: "409" })),
    ]);
    expect((await store.tasks.list())[0]).toMatchObject({
      status: "pending",
      attempts: 0,
      nextRunAt: at,
    });
  });

  it("a worker that dies mid-batch leaves the tasks claimable once the lease expires", async () => {
    const store = await memoryStore();
    await store.tasks.enqueue({ repo: "o/r", type: "automerge", source: "pr:1" }, 0);
    // A first worker claims and "crashes" (never completes).
    await store.tasks.claim({ owner: "crashed", leaseMs: 1_000, limit: 10, now: 1 });
    const p = recorder("automerge");
    await runPass(testEnv(store), [p]);
    expect(p.seen).toEqual([[1]]);
    expect((await store.tasks.get(1))?.status).toBe("done");
  });

  it("a claim whose lease ran out and that the same worker claimed again cannot complete: the result lands only under the newer claim", async () => {
    const store = await memoryStore();
    await store.tasks.enqueue({ repo: "o/r", type: "automerge", source: "pr:1" }, 0);
    const env = testEnv(store);
    let reclaimed: Task[] = [];
    const slow = recorder("automerge");
    slow.process = async (_ctx, tasks) => {
      // The lease runs out while this batch works (its repository lock was lost with a dropped
      // connection), and the same worker process claims the task again for a newer pass.
      reclaimed = await store.tasks.claim({
        owner: env.owner,
        leaseMs: 60_000,
        limit: 10,
        now: Date.now() + 11 * 60_000,
      });
      return new Map(tasks.map((t) => [t.id, { status: "done" } as const]));
    };
    await runPass(env, [slow]);
    expect(reclaimed.map((t) => t.id)).toEqual([1]);
    // The stale claim's "done" was refused: the task is still the newer claim's to finish.
    expect(await store.tasks.get(1)).toMatchObject({
      status: "running",
      leaseOwner: env.owner,
      attempts: 2,
    });
  });
  it("dry-run processes but records nothing as done", async () => {
    const store = await memoryStore();
    await store.tasks.enqueue({ repo: "o/r", type: "automerge", source: "pr:1" });
    const p = recorder("automerge");
    await runPass(testEnv(store, { dryRun: true }), [p]);
    expect(p.seen).toHaveLength(1);
    expect((await store.tasks.list())[0]).toMatchObject({ status: "pending", attempts: 0 });
  });

  it("holds LLM work while people are active and everything but commands while paused", async () => {
    const store = await memoryStore();
    await store.tasks.enqueue({ repo: "o/r", type: "tech_debt_analysis", source: "issue:1" });
    await store.tasks.enqueue({ repo: "o/r", type: "automerge", source: "pr:2" });
    await store.tasks.enqueue({ repo: "o/r", type: "command", source: "comment:3" });
    await store.activity.recordHuman("o/r", "alice");
    const llm = recorder("tech_debt_analysis", undefined, true);
    const merge = recorder("automerge");
    const cmd = recorder("command");
    await runPass(testEnv(store), [llm, merge, cmd]);
    expect([llm.seen.length, merge.seen.length, cmd.seen.length]).toEqual([0, 1, 1]);

    await store.tasks.enqueue({ repo: "o/r", type: "automerge", source: "pr:4" });
    await store.tasks.enqueue({ repo: "o/r", type: "command", source: "comment:5" });
    await store.activity.pause("*", "admin", null);
    await runPass(testEnv(store), [llm, merge, cmd]);
    expect([llm.seen.length, merge.seen.length, cmd.seen.length]).toEqual([0, 1, 2]);
  });

  it("an invalid config stops new work but commands still answer", async () => {
    const store = await memoryStore();
    await store.tasks.enqueue({ repo: "o/r", type: "automerge", source: "pr:2" });
    await store.tasks.enqueue({ repo: "o/r", type: "command", source: "comment:3" });
    const merge = recorder("automerge");
    const cmd = recorder("command");
    const summary = await runPass(testEnv(store, { config: { automerge: { method: "yolo" } } }), [
      merge,
      cmd,
    ]);
    expect([merge.seen.length, cmd.seen.length]).toEqual([0, 1]);
    expect(summary.repos[0]?.skipped).toMatch(/config file is invalid/);
  });

  it("only runs the task types of the requested mode", async () => {
    const store = await memoryStore();
    await store.tasks.enqueue({ repo: "o/r", type: "tech_debt_analysis", source: "issue:1" });
    await store.tasks.enqueue({ repo: "o/r", type: "automerge", source: "pr:2" });
    const llm = recorder("tech_debt_analysis", undefined, true);
    const merge = recorder("automerge");
    await runPass(testEnv(store), [llm, merge], { mode: "automerge" });
    expect([llm.seen.length, merge.seen.length]).toEqual([0, 1]);
  });
});

describe("the outer deadline of a processor call", () => {
  it("injects a processor that hangs forever on one repository: the pass ends at the deadline, the task is retried later, the other repository's task still runs", async () => {
    const store = await memoryStore();
    await store.tasks.enqueue({ repo: "o/a-hangs", type: "automerge", source: "pr:1" });
    await store.tasks.enqueue({ repo: "o/b-fine", type: "automerge", source: "pr:2" });
    const seen: string[] = [];
    let aborted: AbortSignal | undefined;
    const p: Processor = {
      type: "automerge",
      usesLlm: false,
      batchSize: () => 5,
      process(ctx, tasks) {
        seen.push(ctx.repoName);
        if (ctx.repoName === "o/a-hangs") {
          aborted = ctx.signal;
          return new Promise<never>(() => undefined);
        }
        return Promise.resolve(new Map(tasks.map((t) => [t.id, { status: "done" as const }])));
      },
    };
    // Concurrency 1: without the deadline, the hung repository would hold the only slot forever.
    const summary = await runPass(
      testEnv(store, { config: { worker: { processor_timeout: { automerge: "1s" } } } }),
      [p],
      { concurrency: 1 },
    );
    // Each processed exactly once (done twice: 0).
    expect(seen).toEqual(["o/a-hangs", "o/b-fine"]);
    expect(aborted?.aborted).toBe(true);
    expect(summary.repos.map((r) => r.processed.map((x) => x.outcome))).toEqual([
      ["failed"],
      ["done"],
    ]);
    // Lost: 0. The hung task is back in the queue with the reason, due again after a backoff.
    const hung = (await store.tasks.list({ repo: "o/a-hangs" }))[0]!;
    expect(hung).toMatchObject({ status: "pending", attempts: 1 });
    expect(hung.lastError).toContain("timed out after 1 s");
    expect(hung.nextRunAt).toBeGreaterThan(Date.now());
    expect((await store.tasks.list({ repo: "o/b-fine" }))[0]).toMatchObject({ status: "done" });
  });

  it("injects a hanging processor in a runner (captured outcomes, connected mode's after hook): the runner reports the timed-out outcome once", async () => {
    const store = await memoryStore();
    await store.tasks.enqueue({ repo: "o/r", type: "automerge", source: "pr:1" });
    const hangs: Processor = {
      type: "automerge",
      usesLlm: false,
      batchSize: () => 5,
      // Hangs until told to stop (the abort signal), then gives up with an error of its own.
      process: (ctx) =>
        new Promise<never>((_resolve, reject) =>
          ctx.signal?.addEventListener("abort", () => reject(new Error("stopped"))),
        ),
    };
    const reported: TaskOutcome[][] = [];
    const { processors, outcomes } = captureOutcomes([hangs], {
      sweep: false,
      hooks: { after: (_p, _tasks, result) => void reported.push([...result.values()]) },
    });
    await runPass(
      testEnv(store, { config: { worker: { processor_timeout: { automerge: "1s" } } } }),
      processors,
    );
    // Reported to the app exactly once (done twice: 0), with the reason; the task is not lost.
    expect(reported).toHaveLength(1);
    expect(reported[0]).toEqual([
      { status: "failed", error: expect.stringContaining("timed out after 1 s") },
    ]);
    expect([...outcomes.values()].map((o) => o.outcome.status)).toEqual(["failed"]);
    expect((await store.tasks.list())[0]).toMatchObject({ status: "pending", attempts: 1 });
  });

  it("defaults to a few minutes more than the task type's own limits; the setting overrides", () => {
    const cfg = (c: unknown) => {
      const r = parseConfig(c);
      if (!r.ok) throw new Error("bad config");
      return r.config;
    };
    expect(processorTimeoutMs("fix", cfg(null), [])).toBe(45 * 60_000);
    expect(processorTimeoutMs("fix", cfg({ fix: { timeout: "1h" } }), [])).toBe(195 * 60_000);
    expect(processorTimeoutMs("automerge", cfg(null), [])).toBe(15 * 60_000);
    expect(
      processorTimeoutMs("fix", cfg({ worker: { processor_timeout: { fix: "2h" } } }), []),
    ).toBe(2 * 3_600_000);
    expect(parseConfig({ worker: { processor_timeout: { fix: "7h" } } }).ok).toBe(false);
  });
});

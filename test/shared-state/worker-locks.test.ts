import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runPass } from "../../src/worker/pass.js";
import type { Coordination } from "../../src/store/coordination.js";
import type { Processor, ProcessorContext, TaskOutcome } from "../../src/core/worker-contract.js";
import { testEnv } from "../helpers/context.js";
import { postgresAvailable } from "../helpers/postgres.js";
import type { TwoReplicas } from "./two-replicas.js";
import { twoReplicas } from "./two-replicas.js";

const up = await postgresAvailable();

/** A processor whose batches for `holdRepo` wait until released; it records what it processed. */
function holding(holdRepo: string) {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let entered!: () => void;
  const inside = new Promise<void>((r) => (entered = r));
  const seen: string[] = [];
  const p: Processor = {
    type: "automerge",
    usesLlm: false,
    batchSize: () => 10,
    async process(ctx: ProcessorContext, tasks) {
      seen.push(...tasks.map((t) => `${ctx.repoName}#${t.source}`));
      if (ctx.repoName === holdRepo) {
        entered();
        await held;
      }
      if (ctx.repoName === "o/boom") throw new Error("the processor crashed");
      return new Map<number, TaskOutcome>(tasks.map((t) => [t.id, { status: "done" }]));
    },
  };
  return { p, seen, release, inside };
}

describe.skipIf(!up)("worker passes on two replicas take each repository's lock", () => {
  let r: TwoReplicas;
  let locksA: Coordination;
  let locksB: Coordination;
  beforeAll(async () => {
    r = await twoReplicas();
    locksA = r.pg[0].coordination();
    locksB = r.pg[1].coordination();
  });
  afterAll(async () => {
    await locksA?.close();
    await locksB?.close();
    await r?.close();
  });

  it("a repository one replica is working is left to it (busy), the others are worked; it is free after", async () => {
    for (const repo of ["o/slow", "o/fast"])
      await r.a.tasks.enqueue({ repo, type: "automerge", source: "pr:1" });
    const a = holding("o/slow");
    const passA = runPass({ ...testEnv(r.a), owner: "replica-a" }, [a.p], {
      repo: "o/slow",
      locks: locksA,
    });
    await a.inside;
    // A new task on the held repository arrives while A works it: B leaves it to A.
    await r.b.tasks.enqueue({ repo: "o/slow", type: "automerge", source: "pr:2" });
    const b = holding("none");
    const passB = await runPass({ ...testEnv(r.b), owner: "replica-b" }, [b.p], { locks: locksB });
    expect(passB.busy).toEqual(["o/slow"]);
    expect(passB.repos.map((x) => x.repo)).toEqual(["o/fast"]);
    expect(b.seen).toEqual(["o/fast#pr:1"]);

    a.release();
    const doneA = await passA;
    expect(doneA.busy).toBeUndefined();
    const again = await runPass({ ...testEnv(r.b), owner: "replica-b" }, [b.p], { locks: locksB });
    expect(again.busy).toBeUndefined();
    expect(b.seen).toEqual(["o/fast#pr:1", "o/slow#pr:2"]);
  });

  it("a pass whose processor throws still releases the repository's lock", async () => {
    await r.a.tasks.enqueue({ repo: "o/boom", type: "automerge", source: "pr:1" });
    const a = holding("none");
    const passA = await runPass({ ...testEnv(r.a), owner: "replica-a" }, [a.p], {
      repo: "o/boom",
      locks: locksA,
    });
    expect(passA.repos[0]?.processed[0]?.outcome).toBe("failed");
    const lock = await locksB.tryRepoLock("O/Boom");
    expect(lock).not.toBeNull();
    await lock?.release();
  });
});

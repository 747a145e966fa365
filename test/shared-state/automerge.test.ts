import nock from "nock";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createAutomergeProcessor } from "../../src/processors/automerge/processor.js";
import type { Store } from "../../src/store/index.js";
import type { TaskOutcome } from "../../src/core/worker-contract.js";
import { fakeApi, NOW, REPO, snapshot } from "../automerge/fake-merge-api.js";
import { testCtx } from "../helpers/context.js";
import { postgresAvailable } from "../helpers/postgres.js";
import type { TwoReplicas } from "./two-replicas.js";
import { twoReplicas } from "./two-replicas.js";

const up = await postgresAvailable();

/** One replica's automerge pass over PR `pr` (a new processor: nothing carried in memory). */
async function onReplica(
  store: Store,
  s: ReturnType<typeof snapshot>,
  now = NOW,
): Promise<{ outcome: TaskOutcome; writes: ReturnType<typeof fakeApi>["writes"] }> {
  const ctx = await testCtx(store, REPO);
  const { api, writes } = fakeApi(ctx, s);
  const source = `pr:${s.number}`;
  await store.tasks.enqueue({ repo: REPO, type: "automerge", source, payload: { pr: s.number } });
  const [task] = await store.tasks.claim({ owner: "w", leaseMs: 60_000, limit: 1, repo: REPO });
  const out = await createAutomergeProcessor({ api: () => api, now: () => now }).process(ctx, [
    task!,
  ]);
  await store.tasks.complete(task!.id, "w", null);
  return { outcome: out.get(task!.id)!, writes };
}

const pr = (number: number, check: "success" | "failure" = "success") => ({
  ...snapshot(check),
  number,
  url: `https://github.com/${REPO}/pull/${number}`,
});

describe.skipIf(!up)("automerge across two replicas on one PostgreSQL", () => {
  let r: TwoReplicas;
  beforeAll(async () => {
    r = await twoReplicas();
  });
  afterAll(async () => {
    await r?.close();
  });
  beforeEach(() => {
    nock.disableNetConnect();
  });

  it("a merge on one replica makes the other wait the settle window before merging into that base", async () => {
    const first = await onReplica(r.a, pr(7));
    expect(first.writes.merges.map((m) => m.pr)).toEqual([7]);

    // Replica B, a minute later: #8 is ready on the same base, but bg-agent just merged into it.
    const second = await onReplica(r.b, pr(8), NOW + 60_000);
    expect(second.writes.merges).toEqual([]);
    expect(second.outcome).toMatchObject({ status: "retry" });
    expect(second.writes.checks.at(-1)?.title).toBe(
      "Waiting: another PR was just merged into the base",
    );

    // After the window, either replica merges it.
    const third = await onReplica(r.a, pr(8), NOW + 3 * 60_000);
    expect(third.writes.merges.map((m) => m.pr)).toEqual([8]);
  });

  it("an unchanged evaluation is published once, whichever replica evaluates it", async () => {
    const a = await onReplica(r.a, pr(11, "failure"));
    expect(a.writes.checks).toHaveLength(1);
    const b = await onReplica(r.b, pr(11, "failure"));
    expect(b.writes.checks).toEqual([]);
    expect((await r.b.automerge.get(REPO, 11))?.state).toBe("waiting");
    // A change (the check passed) is published, by the replica that sees it.
    const c = await onReplica(r.b, pr(11, "success"), NOW + 10 * 60_000);
    expect(c.writes.checks).toHaveLength(1);
    expect(c.writes.merges.map((m) => m.pr)).toEqual([11]);
  });
});

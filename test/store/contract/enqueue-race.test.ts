import { describe, expect, it } from "vitest";
import { onTwoPools, postgresAvailable } from "../../helpers/postgres.js";

const up = await postgresAvailable();

describe.skipIf(!up)("enqueue across replicas", () => {
  it("writers on 2 pools enqueue the same keys while a worker claims them: one open task per key, the newest content kept", async () => {
    await onTwoPools(async (a, b) => {
      const keys = ["k1", "k2", "k3"];
      const outcomes = new Map<string, number>();
      let writing = true;
      const writer = async (store: typeof a, w: number) => {
        for (let i = 0; i < 60; i++) {
          const source = keys[i % keys.length]!;
          const body = `w${w}-${i}`;
          const r = await store.tasks.enqueue({
            repo: "o/r",
            type: "tech_debt_analysis",
            source,
            payload: { body },
            contentHash: body,
          });
          outcomes.set(r.outcome, (outcomes.get(r.outcome) ?? 0) + 1);
          // A created or refreshed task carries what this writer sent.
          if (r.outcome !== "unchanged") expect(r.task.payload).toEqual({ body });
          expect(r.task.source).toBe(source);
        }
      };
      const claimer = async () => {
        while (writing) {
          const got = await b.tasks.claim({ owner: "w", leaseMs: 60_000, limit: 2 });
          if (got.length)
            await b.tasks.completeMany(
              got.map((t) => ({ id: t.id, result: null })),
              "w",
            );
          else await new Promise((r) => setTimeout(r, 1));
        }
      };
      const claiming = claimer();
      await Promise.all([0, 1, 2, 3].map((w) => writer(w % 2 ? b : a, w)));
      writing = false;
      await claiming;
      expect(outcomes.get("created")).toBeGreaterThan(0);
      // Each key's last enqueue is in an open task, and there is one open task per key at most.
      for (const source of keys) {
        const r = await a.tasks.enqueue({
          repo: "o/r",
          type: "tech_debt_analysis",
          source,
          payload: { body: "final" },
          contentHash: "final",
        });
        expect(["created", "merged"]).toContain(r.outcome);
        const open = await a.pool.query(
          "SELECT payload FROM tasks WHERE source = $1 AND status IN ('pending', 'running')",
          [source],
        );
        expect(open.rows.map((x: { payload: string }) => JSON.parse(x.payload))).toEqual([
          { body: "final" },
        ]);
      }
    });
  });
});

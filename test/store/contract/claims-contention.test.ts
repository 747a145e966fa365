import { describe, expect, it } from "vitest";
import { onTwoPools, postgresAvailable } from "../../helpers/postgres.js";

const up = await postgresAvailable();

describe.skipIf(!up)("claims across replicas", () => {
  it("8 claimers over 2 pools claim 10,000 tasks: none twice, none lost", async () => {
    await onTwoPools(async (a, b) => {
      const now = Date.now();
      await a.pool.query(
        `INSERT INTO tasks (repo, type, source, dedup_key, priority, next_run_at, created_at, updated_at)
       SELECT 'o/r', 'fix', 'issue:' || g, 'o/r|fix|issue:' || g, g % 3, $1, $1, $1 FROM generate_series(1, 10000) g`,
        [now - 1000],
      );
      const seen = new Map<number, string>();
      let twice = 0;
      const worker = async (store: typeof a, owner: string) => {
        for (;;) {
          const got = await store.tasks.claim({ owner, leaseMs: 600_000, limit: 50, now });
          if (!got.length) return;
          for (const t of got) {
            if (seen.has(t.id)) twice++;
            seen.set(t.id, owner);
          }
          await store.tasks.completeMany(
            got.map((t) => ({ id: t.id, result: null })),
            owner,
          );
        }
      };
      await Promise.all(
        Array.from({ length: 8 }, (_, i) => worker(i % 2 ? b : a, `replica${i % 2}-w${i}`)),
      );
      expect(twice).toBe(0);
      expect(seen.size).toBe(10_000);
      const left = await a.pool.query(
        "SELECT status, count(*)::int AS n FROM tasks GROUP BY status",
      );
      expect(left.rows).toEqual([{ status: "done", n: 10_000 }]);
      expect(new Set(seen.values()).size).toBeGreaterThan(1);
    });
  });
});

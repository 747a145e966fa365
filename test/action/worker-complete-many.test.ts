import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/log.js";
import type { Store } from "../../src/store/index.js";
import { Exec } from "../../src/store/postgres/pg-exec.js";
import { createWorkerApiRoutes } from "../../src/web/worker-api.js";
import type { TestIssuer } from "../helpers/oidc.js";
import { DEMO_REPO_ID, serveRoutes, testIssuer, workflowClaims } from "../helpers/oidc.js";
import { postgresAvailable, throwawayPgStore } from "../helpers/postgres.js";
import { memoryStore } from "../helpers/store.js";

/**
 * `POST /bg/api/worker/complete` with many results in one body, through the HTTP API, on both
 * stores: the done and skipped ones completed by one tasks.completeMany, each result applied only
 * while the runner holds its lease, a repeat once, spend capped at the budget in the body's order.
 */
const up = await postgresAvailable();

let issuer: TestIssuer;
beforeAll(async () => {
  issuer = await testIssuer();
});
afterAll(async () => {
  await issuer.close();
});

type Result = { taskId: number; applied: boolean; status: string };

const stores: [string, boolean, () => Promise<Store & { close(): Promise<void> }>][] = [
  ["SQLite", true, memoryStore],
  ["PostgreSQL", up, () => throwawayPgStore()],
];

describe.each(stores)("the worker API's complete on %s", (name, available, open) => {
  it.skipIf(!available)(
    "takes 60 results at once: 50 done, 5 skipped, a retry, a failure, a repeat and 2 of another runner's tasks",
    async () => {
      const store = await open();
      const now = Date.parse("2026-03-10T12:00:00Z");
      const server = await serveRoutes(
        createWorkerApiRoutes({ store, log: silentLogger, jwks: issuer.jwksUrl, now: () => now }),
      );
      const post = async (path: string, body: unknown, token: string) => {
        const res = await fetch(`${server.url}${path}`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
          body: JSON.stringify(body),
        });
        return { status: res.status, json: (await res.json()) as Record<string, unknown> };
      };
      try {
        await store.repos.upsert({
          fullName: "octo/demo",
          repoId: DEMO_REPO_ID,
          defaultBranch: "main",
        });
        for (let i = 1; i <= 60; i++)
          await store.tasks.enqueue(
            { repo: "octo/demo", type: "automerge", source: `pr:${i}`, payload: { pr: i } },
            now - 1000 + i,
          );
        const mine = await issuer.sign(workflowClaims("octo/demo", "100"));
        const theirs = await issuer.sign(workflowClaims("octo/demo", "200"));
        const other = (await post("/bg/api/worker/claim", { limit: 2 }, theirs)).json.tasks as {
          id: number;
        }[];
        const held = (await post("/bg/api/worker/claim", { limit: 100 }, mine)).json.tasks as {
          id: number;
        }[];
        expect([other.length, held.length]).toEqual([2, 58]);
        const ids = held.map((t) => t.id);
        const usage = { promptTokens: 100, cachedTokens: 0, completionTokens: 10, costUsd: 0.375 };
        const results = [
          ...ids.slice(0, 50).map((taskId, i) => ({
            taskId,
            status: "done",
            result: { merged: i },
            ...(i < 3 ? { usage } : {}),
          })),
          ...ids.slice(50, 55).map((taskId) => ({ taskId, status: "skipped", error: "closed" })),
          { taskId: ids[55], status: "retry", retryAt: now + 3_600_000, error: "checks running" },
          { taskId: ids[56], status: "failed", error: "boom", permanent: true },
          { taskId: ids[0], status: "failed", error: "a repeat" },
          { taskId: other[0]!.id, status: "done" },
          { taskId: other[1]!.id, status: "failed", error: "not mine" },
        ];
        const before = Exec.roundTrips;
        const r = await post("/bg/api/worker/complete", { results }, mine);
        const roundTrips = Exec.roundTrips - before;
        expect(r.status).toBe(200);
        expect(r.json.results as Result[]).toEqual([
          ...ids.slice(0, 55).map((taskId) => ({ taskId, applied: true, status: "done" })),
          { taskId: ids[55], applied: true, status: "pending" },
          { taskId: ids[56], applied: true, status: "failed" },
          { taskId: ids[0], applied: false, status: "done" },
          { taskId: other[0]!.id, applied: false, status: "running" },
          { taskId: other[1]!.id, applied: false, status: "running" },
        ]);
        expect(await store.tasks.get(ids[7]!)).toMatchObject({
          status: "done",
          result: JSON.stringify({ merged: 7 }),
        });
        expect(await store.tasks.get(ids[52]!)).toMatchObject({
          status: "done",
          result: JSON.stringify({ skipped: "closed" }),
        });
        expect(await store.tasks.get(ids[55]!)).toMatchObject({
          status: "pending",
          attempts: 0,
          lastError: "checks running",
        });
        expect(await store.tasks.get(ids[56]!)).toMatchObject({
          status: "failed",
          lastError: "boom",
        });
        for (const t of other)
          expect(await store.tasks.get(t.id)).toMatchObject({ status: "running" });
        // The default budget is 1 USD a day: 0.375 + 0.375 + 0.25 (capped) in the body's order.
        expect(r.json.spendCapped).toEqual([
          { taskId: ids[2], reportedUsd: 0.375, recordedUsd: 0.25 },
        ]);
        expect(await store.spend.today("octo/demo", now)).toBeCloseTo(1);

        // The one-task form still works, and a late repeat changes nothing.
        const one = await post(
          "/bg/api/worker/complete",
          { results: [{ taskId: ids[57], status: "done", result: { merged: true } }] },
          mine,
        );
        expect(one.json.results).toEqual([{ taskId: ids[57], applied: true, status: "done" }]);
        const again = await post(
          "/bg/api/worker/complete",
          { results: [{ taskId: ids[57], status: "done", result: { merged: false } }] },
          mine,
        );
        expect(again.json.results).toEqual([{ taskId: ids[57], applied: false, status: "done" }]);
        expect(await store.tasks.get(ids[57]!)).toMatchObject({
          result: JSON.stringify({ merged: true }),
        });
        if (name === "PostgreSQL")
          console.log(`complete of 60 results on PostgreSQL: ${roundTrips} round trips`);
      } finally {
        await server.close();
        await store.close();
      }
    },
  );
});

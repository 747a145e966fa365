import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBgAgent } from "../../src/compose.js";
import { readEnv } from "../../src/env.js";
import { memoryLogger } from "../../src/log.js";
import type { PgStore, PgTxStore } from "../../src/store/postgres/index.js";
import { Exec } from "../../src/store/postgres/pg-exec.js";
import { deliver, seedConfig, testProbot } from "../helpers/app-server.js";
import { pullRequestEvent } from "../helpers/payloads.js";
import { onTwoPools, postgresAvailable, throwawayPgStore } from "../helpers/postgres.js";

/**
 * On PostgreSQL a delivery's record statement also reads its repository's row (issue #16): the
 * handlers' `repos.brief` of that repository is served from it, one round trip fewer a delivery,
 * and never once the delivery wrote to the repositories table.
 */
const up = await postgresAvailable();

const REPO = "octo/brief";
let n = 0;
const delivery = (repo: string | null = REPO) => ({
  id: `d-${++n}`,
  event: "pull_request",
  action: "opened",
  repo,
});

/** The round trips `fn` made. */
async function counted<R>(fn: () => Promise<R>): Promise<{ r: R; trips: number }> {
  const before = Exec.roundTrips;
  const r = await fn();
  return { r, trips: Exec.roundTrips - before };
}

describe.skipIf(!up)("a delivery's repository row, read with its record", () => {
  let s: PgStore;
  beforeAll(async () => {
    s = await throwawayPgStore();
    await s.repos.upsert({ fullName: REPO, installationId: 7, defaultBranch: "main" });
  });
  afterAll(async () => s?.close());

  it("costs no round trip of its own: BEGIN, the record and the row in one, then COMMIT", async () => {
    const { r, trips } = await counted(() =>
      s.tx(async (t) => {
        const recorded = await t.deliveries.record(delivery());
        return { recorded, brief: await t.repos.brief(REPO) };
      }),
    );
    expect(r.recorded).toBe(true);
    expect(r.brief).toEqual(await s.repos.brief(REPO));
    expect(r.brief).toMatchObject({ fullName: REPO, installationId: 7, installed: true });
    expect(trips).toBe(2);
  });

  it("serves a repository without a row as one, also without a round trip", async () => {
    const { r, trips } = await counted(() =>
      s.tx(async (t) => {
        await t.deliveries.record(delivery("octo/none"));
        return t.repos.brief("octo/none");
      }),
    );
    expect(r).toBeUndefined();
    expect(trips).toBe(2);
  });

  it("is never stale after a write to repositories in the same delivery", async () => {
    const writes: [string, (t: PgTxStore) => Promise<unknown>, object][] = [
      [
        "upsert",
        (t) => t.repos.upsert({ fullName: REPO, defaultBranch: "trunk" }),
        { defaultBranch: "trunk" },
      ],
      [
        "setConfig",
        (t) => t.repos.setConfig(REPO, { json: "{}", hash: "h1", valid: true, errors: [] }),
        { configHash: "h1" },
      ],
      ["invalidateConfig", (t) => t.repos.invalidateConfig(REPO), { configLoadedAt: null }],
      [
        "markConfigReported",
        (t) => t.repos.markConfigReported(REPO, "h1"),
        { configReportedHash: "h1" },
      ],
      ["forget", (t) => t.repos.forget([REPO]), { installed: false }],
      ["upsert again", (t) => t.repos.upsert({ fullName: REPO }), { installed: true }],
      ["forgetInstallation", (t) => t.repos.forgetInstallation(7), { installed: false }],
    ];
    for (const [name, write, expected] of writes) {
      const [before, after] = await s.tx(async (t) => {
        await t.deliveries.record(delivery());
        const b = await t.repos.brief(REPO);
        await write(t);
        return [b, await t.repos.brief(REPO)];
      });
      expect({ name, after }).toMatchObject({ name, after: expected });
      expect({ name, after }).toEqual({ name, after: await s.repos.brief(REPO) });
      expect(before).not.toEqual(after);
    }
  });

  it("a write inside a savepoint, rolled back or not, is seen by the delivery's next brief", async () => {
    await s.repos.upsert({ fullName: REPO, defaultBranch: "main" });
    const after = await s.tx(async (t) => {
      await t.deliveries.record(delivery());
      await t.repos.brief(REPO);
      await t
        .tx(async (sp) => {
          await sp.repos.upsert({ fullName: REPO, defaultBranch: "gone" });
          throw new Error("rolled back");
        })
        .catch(() => undefined);
      return t.repos.brief(REPO);
    });
    expect(after?.defaultBranch).toBe("main");
  });

  it("a duplicate is still exactly one recorded delivery, across two pools at once", async () => {
    await onTwoPools(async (a, b) => {
      await a.repos.upsert({ fullName: REPO, installationId: 7 });
      for (let i = 0; i < 20; i++) {
        const d = delivery();
        const outcomes = await Promise.all(
          [a, b, a, b].map((st) =>
            st.tx(async (t) => {
              const recorded = await t.deliveries.record(d);
              if (recorded) await new Promise((r) => setTimeout(r, 5));
              return recorded;
            }),
          ),
        );
        expect(outcomes.filter(Boolean)).toHaveLength(1);
      }
      const rows = await a.pool.query<{ n: string }>("SELECT count(*) AS n FROM deliveries");
      expect(Number(rows.rows[0]!.n)).toBe(20);
    });
  });

  it("outside a transaction, the record is the plain insert and nothing is kept", async () => {
    const d = delivery();
    expect(await s.deliveries.record(d)).toBe(true);
    expect(await s.deliveries.record(d)).toBe(false);
    const { trips } = await counted(() => s.repos.brief(REPO));
    expect(trips).toBe(1);
  });
});

describe.skipIf(!up)("a pull_request delivery through the app on PostgreSQL", () => {
  it("takes 3 round trips: BEGIN + record + repository row, the task, COMMIT", async () => {
    const store = await throwawayPgStore({ poolSize: 4 });
    const probot = testProbot();
    const agent = await createBgAgent({
      env: readEnv({ BG_DB_PATH: ":memory:", BG_WORKER: "off" }),
      processEnv: {},
      store,
      probot,
      log: memoryLogger(),
      identity: { login: "bg-agent[bot]" },
      retention: false,
      routes: [],
    });
    try {
      await agent.server.listen(0, "127.0.0.1");
      const app = { url: agent.server.url(), probot };
      await seedConfig(store, "octo/app", { automerge: { method: "merge" } });
      // The first delivery also fills in the repository row (its id, default branch).
      const first = await deliver(app, {
        name: "pull_request",
        payload: pullRequestEvent({ repo: "octo/app", number: 1 }),
      });
      expect(first.status).toBe(200);
      const { r, trips } = await counted(() =>
        deliver(app, {
          name: "pull_request",
          payload: pullRequestEvent({ repo: "octo/app", number: 2 }),
        }),
      );
      expect(r.status).toBe(200);
      expect(trips).toBe(3);
      const tasks = await store.tasks.list();
      expect(tasks.filter((t) => t.repo === "octo/app").map((t) => t.source)).toEqual(
        expect.arrayContaining(["pr:1", "pr:2"]),
      );
    } finally {
      await agent.server.close();
      await store.close();
    }
  });
});

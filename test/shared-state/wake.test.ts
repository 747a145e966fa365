import nock from "nock";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createBgAgent } from "../../src/compose.js";
import type { BgAgent } from "../../src/compose.js";
import { readEnv } from "../../src/env.js";
import { memoryLogger, silentLogger } from "../../src/log.js";
import { InProcessCoordination } from "../../src/store/coordination.js";
import { openPostgresStore } from "../../src/store/postgres/index.js";
import type { Store } from "../../src/store/index.js";
import { startWakeBus } from "../../src/worker/wake-bus.js";
import { deliver, seedConfig, testProbot } from "../helpers/app-server.js";
import { memoryStore } from "../helpers/store.js";
import { commentEvent, REPO } from "../e2e/harness.js";
import {
  dropSchema,
  postgresAvailable,
  TEST_DATABASE_URL,
  throwawaySchema,
} from "../helpers/postgres.js";

const up = await postgresAvailable();
const TOKEN = "replica-admin-token-0123456789";
const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("the wake bus (in-process coordination: one process, today's behaviour)", () => {
  it("a replica never wakes itself from its own announcements; a burst of announcements is a few notifications", async () => {
    const c = new InProcessCoordination();
    const woke: string[] = [];
    const a = await startWakeBus({
      coordination: c,
      self: "a",
      log: silentLogger,
      onWake: (r) => woke.push(`a:${r}`),
      debounceMs: 20,
    });
    const b = await startWakeBus({
      coordination: c,
      self: "b",
      log: silentLogger,
      onWake: (r) => woke.push(`b:${r}`),
      debounceMs: 20,
    });
    for (let i = 0; i < 50; i++) a.announce("o/r");
    await settle(120);
    expect(a.counts.sent).toBe(2);
    expect(woke).toEqual(["b:o/r"]);
    await a.stop();
    await b.stop();
    await c.close();
  });
});

describe("two app replicas sharing a coordination: intake's wake reaches the other", () => {
  it("a /bg comment delivered to replica A runs a pass on A and on B", async () => {
    nock.disableNetConnect();
    nock.enableNetConnect("127.0.0.1");
    const coordination = new InProcessCoordination();
    const woke = { a: 0, b: 0 };
    const agents: BgAgent[] = [];
    try {
      for (const name of ["a", "b"] as const) {
        const store = await memoryStore();
        await seedConfig(store, REPO, null);
        const agent = await createBgAgent({
          env: readEnv({ BG_DB_PATH: ":memory:", BG_WORKER: "on", BG_TICK_SECONDS: "3600" }),
          processEnv: {},
          store,
          probot: testProbot(),
          coordination,
          log: memoryLogger(),
          identity: {},
          processors: () => [],
          retention: false,
          onWake: (p) => {
            woke[name]++;
            void p.catch(() => undefined);
          },
        });
        await agent.start(0, "127.0.0.1");
        agents.push(agent);
      }
      const [a] = agents;
      const res = await deliver(
        { url: a!.server.url(), probot: a!.probot },
        {
          name: "issue_comment",
          payload: commentEvent({ id: 901, body: "/bg help", login: "dave" }),
        },
      );
      expect(res.status).toBe(200);
      expect(woke.a).toBe(1);
      for (let i = 0; i < 100 && woke.b === 0; i++) await settle(20);
      expect(woke.b).toBe(1);
      expect(nock.pendingMocks()).toEqual([]);
    } finally {
      for (const agent of agents) await agent.stop();
      await coordination.close();
      nock.enableNetConnect();
    }
  });
});

describe.skipIf(!up)("two app replicas on one PostgreSQL hear each other's wakes", () => {
  const schema = throwawaySchema();
  const agents: BgAgent[] = [];
  const passes = { a: 0, b: 0 };
  beforeAll(async () => {
    nock.disableNetConnect();
    nock.enableNetConnect("127.0.0.1");
    for (const name of ["a", "b"] as const) {
      const store = await openPostgresStore({ url: TEST_DATABASE_URL, schema, poolSize: 3 });
      const agent = await createBgAgent({
        env: readEnv({ BG_ADMIN_TOKEN: TOKEN, BG_WORKER: "on", BG_TICK_SECONDS: "3600" }),
        processEnv: {},
        // PgStore's tx handle has no nested tx yet (feat/pgwire); nothing here opens a transaction.
        store: store as unknown as Store,
        probot: testProbot(),
        log: memoryLogger(),
        identity: {},
        processors: () => [],
        retention: false,
        onWake: (p) => {
          passes[name]++;
          void p.catch(() => undefined);
        },
      });
      await agent.start(0, "127.0.0.1");
      agents.push(agent);
    }
  });
  afterAll(async () => {
    for (const a of agents) await a.stop();
    await dropSchema(schema);
    nock.enableNetConnect();
  });
  afterEach(() => expect(nock.pendingMocks()).toEqual([]));

  it("“Run now” on one replica (POST /bg/api/wake) runs a pass on the other too", async () => {
    const res = await fetch(`${agents[0]!.server.url()}/bg/api/wake`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: "{}",
    });
    expect(res.status).toBe(202);
    for (let i = 0; i < 100 && passes.b === 0; i++) await settle(20);
    expect(passes.b).toBe(1);
    // Replica A ran its own pass (the admin API's), not a second one from its own announcement.
    await settle(300);
    expect(passes.a).toBe(0);
    expect(passes.b).toBe(1);
  });
});

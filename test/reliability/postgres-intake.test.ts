import nock from "nock";
import { afterEach, describe, expect, it } from "vitest";
import { createBgAgent } from "../../src/compose.js";
import { readEnv } from "../../src/env.js";
import { memoryLogger } from "../../src/log.js";
import { openPostgresStore } from "../../src/store/postgres/index.js";
import type { PgStore } from "../../src/store/postgres/index.js";
import { deliver, seedConfig, testProbot } from "../helpers/app-server.js";
import { nockInstallationToken, nockRawConfig } from "../helpers/github-nock.js";
import { pullRequestEvent } from "../helpers/payloads.js";
import {
  dropSchema,
  postgresAvailable,
  TEST_DATABASE_URL,
  throwawaySchema,
} from "../helpers/postgres.js";
import { startTcpProxy } from "../helpers/tcp-proxy.js";
import { startRetentionLoop } from "../../src/worker/retention.js";
import type { TcpProxy } from "../helpers/tcp-proxy.js";

/**
 * Webhook intake on PostgreSQL (issue #16), through the real app (createBgAgent): a delivery is
 * one transaction, its record first. Replicas are two apps with their own pools on one schema.
 * The database is taken away by a loopback TCP proxy between the app and the shared server, never
 * by stopping the server. Each test counts what was lost (an acknowledged delivery without its
 * task: 0) and what was done twice (a second task or delivery record for one delivery: 0).
 */
const up = await postgresAvailable();

const COLD = "octo/cold";
const WARM = "octo/warm";
const AUTOMERGE = "automerge:\n  method: merge\n";

type Replica = Awaited<ReturnType<typeof startReplica>>;

async function startReplica(o: {
  schema: string;
  url?: string;
  worker?: boolean;
  idleTxTimeoutMs?: number;
}) {
  const store = await openPostgresStore({
    url: o.url ?? TEST_DATABASE_URL,
    schema: o.schema,
    poolSize: 4,
    connectTimeoutMs: 1000,
    ...(o.idleTxTimeoutMs !== undefined ? { idleTxTimeoutMs: o.idleTxTimeoutMs } : {}),
  });
  const log = memoryLogger();
  const probot = testProbot();
  const agent = await createBgAgent({
    env: readEnv({
      BG_DB_PATH: ":memory:",
      BG_WORKER: o.worker ? "on" : "off",
      BG_TICK_SECONDS: "1",
    }),
    processEnv: {},
    store,
    probot,
    log,
    identity: { login: "bg-agent[bot]" },
    retention: false,
    routes: [],
  });
  if (o.worker) await agent.start(0, "127.0.0.1");
  else await agent.server.listen(0, "127.0.0.1");
  return { store, probot, log, url: agent.server.url(), agent };
}

const prTasks = async (store: PgStore, repo: string, number = 7) =>
  (await store.tasks.list()).filter((t) => t.repo === repo && t.source === `pr:${number}`);
const deliveriesRecorded = async (store: PgStore) =>
  Number(
    (await store.pool.query<{ n: string }>("SELECT count(*) AS n FROM deliveries")).rows[0]!.n,
  );
const pr = (repo: string, id: string, number = 7) => ({
  name: "pull_request",
  payload: pullRequestEvent({ repo, number }),
  id,
});

describe.skipIf(!up)("webhook intake on PostgreSQL", () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  async function setup(
    o: { proxy?: boolean; replicas?: number; worker?: boolean; idleTxTimeoutMs?: number } = {},
  ) {
    const schema = throwawaySchema();
    cleanup.push(() => dropSchema(schema));
    let proxy: TcpProxy | undefined;
    if (o.proxy) {
      const u = new URL(TEST_DATABASE_URL);
      proxy = await startTcpProxy({ host: u.hostname, port: Number(u.port || 5432) });
      cleanup.push(() => proxy!.close());
    }
    const replicas: Replica[] = [];
    for (let i = 0; i < (o.replicas ?? 1); i++) {
      const r = await startReplica({
        schema,
        ...(proxy ? { url: proxy.url(TEST_DATABASE_URL) } : {}),
        ...(o.worker ? { worker: true } : {}),
        ...(o.idleTxTimeoutMs !== undefined ? { idleTxTimeoutMs: o.idleTxTimeoutMs } : {}),
      });
      cleanup.push(async () => {
        await r.agent.stop();
      });
      replicas.push(r);
    }
    return { schema, proxy, replicas };
  }

  it("injects: one delivery to two replicas at once, the first holding its transaction open on a slow config read (1 time) — done once, the other answers duplicate", async () => {
    const { replicas } = await setup({ replicas: 2 });
    const [a, b] = replicas as [Replica, Replica];
    nockInstallationToken();
    nockRawConfig(AUTOMERGE, COLD, 400);
    const first = deliver(a, pr(COLD, "same-id"));
    // A has inserted the record and waits on GitHub; B's INSERT of the same id waits on A's row.
    await new Promise((r) => setTimeout(r, 150));
    const second = await deliver(b, pr(COLD, "same-id"));
    const one = await first;
    expect(one).toMatchObject({ status: 200, body: { ok: true } });
    expect(one.body.duplicate).toBeUndefined();
    expect(second).toMatchObject({ status: 200, body: { ok: true, duplicate: true } });
    // done twice: 0 — one task, one record; lost: 0.
    expect(await prTasks(a.store, COLD)).toHaveLength(1);
    expect(await deliveriesRecorded(a.store)).toBe(1);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("injects: a config read slower than the idle-in-transaction timeout (300 ms, 1 time) — the server ends the transaction, 503 and nothing recorded; the redelivery is processed once", async () => {
    const { replicas } = await setup({ idleTxTimeoutMs: 300 });
    const a = replicas[0]!;
    nockInstallationToken();
    nockRawConfig(AUTOMERGE, COLD, 900);
    const slow = await deliver(a, pr(COLD, "d-idle"));
    expect(slow.status).toBe(503);
    expect(slow.body.error).toMatch(/database is unavailable/);
    expect(await deliveriesRecorded(a.store)).toBe(0);
    expect(await prTasks(a.store, COLD)).toHaveLength(0);
    nockRawConfig(AUTOMERGE, COLD);
    const again = await deliver(a, pr(COLD, "d-idle"));
    expect(again).toMatchObject({ status: 200, body: { ok: true } });
    expect(again.body.duplicate).toBeUndefined();
    expect(await prTasks(a.store, COLD)).toHaveLength(1);
    expect(await deliveriesRecorded(a.store)).toBe(1);
  });

  it("injects: a handler failure (a trigger refusing the task's INSERT, 1 time) rolls back the delivery record with it — the redelivery is processed", async () => {
    const { schema, replicas } = await setup();
    const a = replicas[0]!;
    await seedConfig(a.store, WARM, { automerge: { method: "merge" } });
    await a.store.pool.query(`
      CREATE FUNCTION "${schema}".refuse_task() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'injected fault'; END $$;
      CREATE TRIGGER refuse_task BEFORE INSERT ON "${schema}".tasks
        FOR EACH ROW EXECUTE FUNCTION "${schema}".refuse_task();`);
    const failed = await deliver(a, pr(WARM, "d-fails"));
    expect(failed.status).toBe(500);
    expect(await deliveriesRecorded(a.store)).toBe(0);
    expect(await a.store.repos.get(WARM)).toBeDefined(); // written before the delivery, kept
    await a.store.pool.query(`DROP TRIGGER refuse_task ON "${schema}".tasks`);
    const again = await deliver(a, pr(WARM, "d-fails"));
    expect(again).toMatchObject({ status: 200, body: { ok: true } });
    expect(again.body.duplicate).toBeUndefined();
    expect(await prTasks(a.store, WARM)).toHaveLength(1);
    expect((await deliver(a, pr(WARM, "d-fails"))).body.duplicate).toBe(true);
  });

  it("injects: the database cut while running (twice: between deliveries, and during one's open transaction) — 503 with Retry-After and /readyz 503 while cut; after restore the redeliveries are processed once: lost 0, done twice 0", async () => {
    const { proxy, replicas } = await setup({ proxy: true });
    const a = replicas[0]!;
    await seedConfig(a.store, WARM, { automerge: { method: "merge" } });
    const ready = async () => (await fetch(`${a.url}/readyz`)).status;
    expect(await ready()).toBe(200);
    const before = await deliver(a, pr(WARM, "d-before"));
    expect(before).toMatchObject({ status: 200, body: { ok: true } });

    // 1. Cut between deliveries.
    proxy!.cut();
    const whileCut = await fetch(`${a.url}/api/github/webhooks`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-github-event": "pull_request",
        "x-github-delivery": "d-cut",
        "x-hub-signature-256": await a.probot.webhooks.sign(
          JSON.stringify(pullRequestEvent({ repo: COLD })),
        ),
      },
      body: JSON.stringify(pullRequestEvent({ repo: COLD })),
    });
    expect(whileCut.status).toBe(503);
    expect(whileCut.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(((await whileCut.json()) as { error: string }).error).toMatch(/database is unavailable/);
    const readyz = await fetch(`${a.url}/readyz`);
    expect(readyz.status).toBe(503);
    expect(((await readyz.json()) as { ok: boolean }).ok).toBe(false);
    expect((await fetch(`${a.url}/ping`)).status).toBe(200); // liveness: the process is fine
    expect(a.log.lines.some((l) => l.level === "error")).toBe(false); // a warning, not an error
    expect(a.log.lines.some((l) => /answered 503/.test(l.msg))).toBe(true);

    proxy!.restore();
    expect(await ready()).toBe(200);

    // 2. Cut while a delivery's transaction is open (its config read from GitHub is slow).
    nockInstallationToken();
    nockRawConfig(AUTOMERGE, COLD, 400);
    const during = deliver(a, pr(COLD, "d-during", 8));
    await new Promise((r) => setTimeout(r, 150));
    proxy!.cut();
    expect((await during).status).toBe(503);
    proxy!.restore();

    // GitHub's redeliveries (a person clicks Redeliver): each processed once; the acknowledged one is a duplicate.
    // (The installation token is cached in the process; the config read was rolled back with
    // d-during's transaction, so it is read again.)
    nockRawConfig(AUTOMERGE, COLD);
    const redelivered = [
      await deliver(a, pr(COLD, "d-cut")),
      await deliver(a, pr(COLD, "d-during", 8)),
      await deliver(a, pr(WARM, "d-before")),
    ];
    expect(redelivered.map((r) => [r.status, r.body.duplicate ?? false])).toEqual([
      [200, false],
      [200, false],
      [200, true],
    ]);
    expect(await prTasks(a.store, COLD, 7)).toHaveLength(1);
    expect(await prTasks(a.store, COLD, 8)).toHaveLength(1);
    expect(await prTasks(a.store, WARM)).toHaveLength(1);
    expect(await deliveriesRecorded(a.store)).toBe(3);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("injects: the database cut under the worker loop (1 s ticks) and the retention loop (1 time) — each logs and carries on; once it is back their next runs succeed", async () => {
    const { proxy, replicas } = await setup({ proxy: true, worker: true });
    const a = replicas[0]!;
    const loop = a.agent.loop();
    expect(loop).toBeDefined();
    await loop!.wake();
    const retention = startRetentionLoop(
      a.store,
      { days: 30, auditDays: 30 },
      { log: a.log, firstDelayMs: 50, everyMinutes: 600 },
    );
    cleanup.push(() => retention.stop());

    proxy!.cut();
    await expect(loop!.wake()).rejects.toThrow(/database is unavailable/);
    await expect(retention.runNow()).rejects.toThrow(/database is unavailable/);
    // The timers keep firing while it is down: each failure is a log line, not a crash.
    await new Promise((r) => setTimeout(r, 2200));
    const failed = (msg: RegExp) => a.log.lines.filter((l) => msg.test(l.msg)).length;
    expect(failed(/worker pass failed/)).toBeGreaterThanOrEqual(1);
    expect(failed(/history compaction failed/)).toBeGreaterThanOrEqual(1);

    proxy!.restore();
    await expect(loop!.wake()).resolves.toBeDefined();
    await expect(retention.runNow()).resolves.toMatchObject({ steps: expect.any(Number) });
  });
});

/**
 * A server for bench/intake.ts, run in its own process so the load generator does not share its
 * event loop: `ours` = bg-agent's app (createApp + createServer, file store as in production:
 * synchronous=NORMAL plus an fsync of the WAL per group commit before answering, Probot's pino
 * logger); `pg` = the same app on the PostgreSQL store (BENCH_PG_URL, schema BENCH_PG_SCHEMA;
 * several `pg` processes on one schema are replicas); `bare` = Probot's own Server with handlers
 * that do nothing; `noop` = Probot's receive() with a no-op handler behind bg-agent's server.
 * Prints `PORT <n>` when listening and `CPU <ms>` when sent SIGINT; GET /bench/round-trips gives
 * the PostgreSQL store's queries so far (null on SQLite).
 */
import { mkdtempSync } from "node:fs";
import { createServer as netServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Probot, ProbotOctokit, Server } from "probot";
import { createApp } from "../src/app.js";
import { parseConfig } from "../src/config/load.js";
import type { Logger } from "../src/log.js";
import { createServer } from "../src/server.js";
import { GroupCommit } from "../src/store/group-commit.js";
import { createScopedStore } from "../src/store/scoped-store.js";
import { openStore } from "../src/store/index.js";
import type { SqliteStore, Store } from "../src/store/index.js";
import { sendJson } from "../src/web/http.js";

const kind = process.argv[2];
const secret = process.env.BENCH_SECRET ?? "bench-secret";
const privateKey = process.env.BENCH_PRIVATE_KEY ?? "";
const repos = Number(process.env.BENCH_REPOS ?? "50");
const options = {
  appId: 1,
  privateKey,
  secret,
  // BENCH_LOG_LEVEL=error shows why a delivery failed (the figures are measured at fatal).
  logLevel: (process.env.BENCH_LOG_LEVEL ?? "fatal") as "fatal" | "error",
  Octokit: ProbotOctokit.defaults({ retry: { enabled: false }, throttle: { enabled: false } }),
};

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = netServer();
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => (a && typeof a === "object" ? resolve(a.port) : reject(new Error("no port"))));
    });
  });

if (kind === "bare") {
  const probe = new Probot(options);
  await probe.ready();
  const server = new Server({
    Probot: Probot.defaults(options),
    port: await freePort(),
    host: "127.0.0.1",
    log: probe.log,
  });
  await server.load((app) => {
    app.onAny(async () => {});
  });
  await server.start();
  console.log(`PORT ${server.port}`);
} else {
  const { store, sqlite, roundTrips } = await openBenchStore();
  const raw = { tech_debt: { github: { labels: ["tech-debt"] } } };
  const cfg = parseConfig(raw);
  for (let i = 0; i < repos; i++) {
    const repo = `bench/repo-${i}`;
    await store.repos.upsert({ fullName: repo, installationId: 1, defaultBranch: "main" });
    // Config cached far in the future: the bench measures intake, not GitHub.
    await store.repos.setConfig(
      repo,
      { json: JSON.stringify(raw), hash: cfg.hash, valid: true, errors: [] },
      Date.now() + 3600_000,
    );
  }
  const probot = new Probot(options);
  await probot.ready();
  // noop: Probot's own receive() with a handler that does nothing, behind bg-agent's server.
  if (kind === "noop") await probot.load((app) => app.onAny(async () => {}));
  // Logging as in production: Probot's pino logger (at LOG_LEVEL=fatal, like the bare server's).
  const log = probot.log as unknown as Logger;
  // As src/compose.ts wires it: a store without a group commit (PostgreSQL) makes each delivery
  // one transaction that the handlers' store calls join.
  const scope = store.groupCommit ? undefined : createScopedStore(store);
  const receiver = kind === "noop" ? probot : createApp({ store: scope?.store ?? store })(probot);
  const server = createServer({
    receiver,
    store,
    ...(scope ? { deliveryScope: scope } : {}),
    log,
    ...(process.env.BENCH_NOSYNC && sqlite ? { groupCommit: new GroupCommit(sqlite) } : {}),
    routes: [
      async (_req, res, url) =>
        url.pathname === "/bench/round-trips"
          ? sendJson(res, 200, { roundTrips: roundTrips() })
          : false,
      async (_req, res, url) =>
        url.pathname === "/bench/stats"
          ? sendJson(res, 200, {
              tasks: await store.tasks.counts(),
              deliveries: await store.deliveries.countsByEvent(),
              commits: server.group?.commits ?? null,
            })
          : false,
    ],
  });
  const port = await server.listen(0, "127.0.0.1");
  console.log(`PORT ${port}`);
}

/** The SQLite file store as in production, or (`pg`) the PostgreSQL store and its round-trip count. */
async function openBenchStore(): Promise<{
  store: Store;
  sqlite?: SqliteStore;
  roundTrips: () => number | null;
}> {
  if (kind === "pg") {
    const { Exec, openPostgresStore } = await import("../src/store/postgres/index.js");
    const url = process.env.BENCH_PG_URL;
    const schema = process.env.BENCH_PG_SCHEMA;
    if (!url || !schema) throw new Error("the pg server needs BENCH_PG_URL and BENCH_PG_SCHEMA");
    // Until the PgStore's tx handle has the nested tx of the async Store (feat/pgwire).
    const store = (await openPostgresStore({
      url,
      schema,
      ...(process.env.BENCH_POOL ? { poolSize: Number(process.env.BENCH_POOL) } : {}),
    })) as unknown as Store;
    return { store, roundTrips: () => Exec.roundTrips };
  }
  const dir = mkdtempSync(join(tmpdir(), "bg-bench-"));
  const store = await openStore({
    path: join(dir, "bench.db"),
    synchronous: (process.env.BENCH_SYNC as "FULL" | "NORMAL" | undefined) ?? "NORMAL",
  });
  return { store, sqlite: store, roundTrips: () => null };
}

const cpu0 = process.cpuUsage();
// On SIGINT: the CPU time (all threads) from listening to now, so the bench can compare what each
// server spends per delivery, not only how fast it answers.
process.on("SIGINT", () => {
  const c = process.cpuUsage(cpu0);
  process.stdout.write(`CPU ${Math.round((c.user + c.system) / 1000)}\n`, () => process.exit(0));
});

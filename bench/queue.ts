/**
 * bench/queue.ts (npm run bench:queue): enqueue, claim and complete N tasks (default 50,000,
 * BENCH_QUEUE_N) through bg-agent's SQLite store, its PostgreSQL store with 1 and 4 concurrent
 * workers, graphile-worker on the same PostgreSQL (own schema) and BullMQ on the local Redis
 * (own key prefix). Same work for each: enqueue in batches of 500 (one transaction / addJobs /
 * addBulk per batch), claim up to 100 per round trip, complete each claimed batch.
 * Prints a table and writes bench/results/queue.json. Cleans up its schemas and Redis keys.
 */
import { writeFileSync } from "node:fs";
import { readFileSync, readdirSync } from "node:fs";
import pg from "pg";
import { memoryStore } from "../test/helpers/store.js";
import { openPostgresStore, Exec } from "../src/store/postgres/index.js";

const N = Number(process.env.BENCH_QUEUE_N ?? 50_000);
const BATCH = 500;
const CLAIM = 100;
const URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

interface Result {
  name: string;
  tasks: number;
  seconds: number;
  tasksPerSec: number;
  cpuMsPerTask: number;
  pgServerCpuMsPerTask: number | null;
  roundTripsPerTask: number | null;
}

/** CPU time (ms) of all postgres server processes, from /proc (null where unreadable). */
function pgServerCpuMs(): number | null {
  try {
    const tick = 100; // USER_HZ on Linux
    let total = 0;
    for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
        if (!name.startsWith("postgres")) continue;
        const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        total += ((Number(f[11]) + Number(f[12])) * 1000) / tick;
      } catch {
        /* gone */
      }
    }
    return total;
  } catch {
    return null;
  }
}

async function measure(
  name: string,
  fn: () => Promise<number | null>,
  serverCpu = true,
): Promise<Result> {
  const cpu0 = process.cpuUsage();
  const pg0 = serverCpu ? pgServerCpuMs() : null;
  const t0 = performance.now();
  const trips = await fn();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const pg1 = serverCpu ? pgServerCpuMs() : null;
  const r: Result = {
    name,
    tasks: N,
    seconds: +seconds.toFixed(2),
    tasksPerSec: Math.round(N / seconds),
    cpuMsPerTask: +((cpu.user + cpu.system) / 1000 / N).toFixed(4),
    pgServerCpuMsPerTask: pg0 !== null && pg1 !== null ? +((pg1 - pg0) / N).toFixed(4) : null,
    roundTripsPerTask: trips === null ? null : +(trips / N).toFixed(3),
  };
  console.error(`${name}: ${r.tasksPerSec} tasks/s`);
  return r;
}

async function sqlite(): Promise<number | null> {
  const s = await memoryStore();
  for (let i = 0; i < N; i += BATCH) {
    await s.tx(async (txs) => {
      for (let j = i; j < Math.min(N, i + BATCH); j++)
        await txs.tasks.enqueue({ repo: "o/r", type: "fix", source: `t:${j}` });
    });
  }
  let done = 0;
  for (;;) {
    const got = await s.tasks.claim({ owner: "w", leaseMs: 600_000, limit: CLAIM });
    if (!got.length) break;
    await s.tx(async (txs) => {
      for (const t of got) await txs.tasks.complete(t.id, "w", null);
    });
    done += got.length;
  }
  if (done !== N) throw new Error(`sqlite: ${done} of ${N}`);
  await s.close();
  return null;
}

async function bgPostgres(workers: number): Promise<number> {
  const schema = `bg_bench_${process.pid}_${workers}`;
  const s = await openPostgresStore({ url: URL, schema, poolSize: workers + 2 });
  try {
    Exec.roundTrips = 0;
    for (let i = 0; i < N; i += BATCH) {
      await s.tx(async (t) => {
        for (let j = i; j < Math.min(N, i + BATCH); j++)
          await t.tasks.enqueue({ repo: "o/r", type: "fix", source: `t:${j}` });
      });
    }
    let done = 0;
    await Promise.all(
      Array.from({ length: workers }, async (_, w) => {
        for (;;) {
          const got = await s.tasks.claim({ owner: `w${w}`, leaseMs: 600_000, limit: CLAIM });
          if (!got.length) {
            // Empty can mean "the rest is locked by the other workers' claims": stop only when none is pending.
            if ((await s.stats.taskCount({ status: "pending" })) === 0) return;
            continue;
          }
          const n = await s.tasks.completeMany(
            got.map((t) => t.id),
            `w${w}`,
            null,
          );
          done += n;
        }
      }),
    );
    if (done !== N) {
      const c = await s.tasks.counts();
      throw new Error(`postgres: ${done} of ${N} ${JSON.stringify(c)}`);
    }
    return Exec.roundTrips;
  } finally {
    await s.pool.query(`DROP SCHEMA "${schema}" CASCADE`);
    await s.close();
  }
}

async function graphile(): Promise<number | null> {
  const { Logger, makeWorkerUtils, run } = await import("graphile-worker");
  const logger = new Logger(() => () => {}); // quiet: its per-job log line would be measured too
  const schema = `gw_bench_${process.pid}`;
  const utils = await makeWorkerUtils({ connectionString: URL, schema, logger });
  try {
    await utils.migrate();
    for (let i = 0; i < N; i += BATCH) {
      const specs = [];
      for (let j = i; j < Math.min(N, i + BATCH); j++)
        specs.push({ identifier: "fix", payload: { repo: "o/r", source: `t:${j}` } });
      await utils.addJobs(specs);
    }
    let done = 0;
    let finish!: () => void;
    const all = new Promise<void>((r) => (finish = r));
    const runner = await run({
      connectionString: URL,
      schema,
      concurrency: 4,
      noHandleSignals: true,
      logger,
      pollInterval: 100,
      taskList: {
        fix: async () => {
          if (++done === N) finish();
        },
      },
    });
    await all;
    await runner.stop();
    return null;
  } finally {
    const c = new pg.Client({ connectionString: URL });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await c.end();
    await utils.release();
  }
}

async function bullmq(): Promise<number | null> {
  const { Queue, Worker } = await import("bullmq");
  const prefix = `bgbench${process.pid}`;
  const connection = { host: "127.0.0.1", port: 6379 };
  const queue = new Queue("fix", { connection, prefix });
  try {
    for (let i = 0; i < N; i += BATCH) {
      const jobs = [];
      for (let j = i; j < Math.min(N, i + BATCH); j++)
        jobs.push({
          name: "fix",
          data: { repo: "o/r", source: `t:${j}` },
          opts: { removeOnComplete: true },
        });
      await queue.addBulk(jobs);
    }
    let done = 0;
    let finish!: () => void;
    const all = new Promise<void>((r) => (finish = r));
    const worker = new Worker(
      "fix",
      async () => {
        if (++done === N) finish();
      },
      { connection, prefix, concurrency: 4 },
    );
    await all;
    await worker.close();
    return null;
  } finally {
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
  }
}

const only = process.env.BENCH_QUEUE_ONLY?.split(",");
const want = (n: string) => !only || only.includes(n);
const results: Result[] = [];
if (want("sqlite")) results.push(await measure("bg-agent SQLite (1 worker)", sqlite, false));
if (want("pg1")) results.push(await measure("bg-agent PostgreSQL, 1 worker", () => bgPostgres(1)));
if (want("pg4")) results.push(await measure("bg-agent PostgreSQL, 4 workers", () => bgPostgres(4)));
if (want("graphile")) results.push(await measure("graphile-worker 0.17, concurrency 4", graphile));
if (want("bullmq")) results.push(await measure("BullMQ (Redis), concurrency 4", bullmq, false));

const gw = results.find((r) => r.name.startsWith("graphile"));
console.log(
  `\n${N} tasks: enqueue in batches of ${BATCH}, claim up to ${CLAIM} per round trip, complete\n`,
);
console.log(
  "| store | tasks/s | × graphile | s | client CPU ms/task | PG server CPU ms/task | round trips/task |",
);
console.log("|---|---:|---:|---:|---:|---:|---:|");
for (const r of results) {
  console.log(
    `| ${r.name} | ${r.tasksPerSec} | ${gw ? (r.tasksPerSec / gw.tasksPerSec).toFixed(2) : "-"} | ${r.seconds} | ${r.cpuMsPerTask} | ${r.pgServerCpuMsPerTask ?? "-"} | ${r.roundTripsPerTask ?? "-"} |`,
  );
}
writeFileSync(
  "bench/results/queue.json",
  JSON.stringify({ tasks: N, enqueueBatch: BATCH, claimBatch: CLAIM, results }, null, 2) + "\n",
);

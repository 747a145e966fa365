/**
 * bench/queue.ts (npm run bench:queue, issue #16): enqueue, claim and complete N tasks (default
 * 50,000, BENCH_QUEUE_N) through bg-agent's SQLite store (a file, as the app opens it), its
 * PostgreSQL store with 1 and 4 concurrent workers, graphile-worker on the same PostgreSQL (own
 * schema; its defaults, its documented batching, and that with its bulk `addJobs`) and BullMQ on
 * the local Redis (own key prefix), in one run. The same work for each, measured as two phases:
 *
 * - enqueue: N tasks, each with its own dedup key (bg-agent's one open task per key; graphile's
 *   `job_key`; BullMQ's `jobId`), one statement a task, 500 tasks a transaction (bg-agent's
 *   `tx` + `tasks.enqueue`; graphile's `add_job` between BEGIN and COMMIT; BullMQ's `addBulk`,
 *   one MULTI). One more graphile row enqueues with `addJobs`, one statement per 500 (bg-agent's
 *   store has no bulk enqueue: each caller acts on its one task's outcome).
 * - drain: claim and complete all N with a no-op handler. bg-agent's workers do what its worker
 *   pass does (src/worker/pass.ts): claim up to 100, complete the batch with `tasks.completeMany`;
 *   graphile-worker and BullMQ run 4 jobs at a time.
 *
 * Also measured: this process's CPU, the servers' CPU (PostgreSQL: the backends serving this
 * process, from /proc; Redis: INFO cpu), round trips (PostgreSQL queries and Redis commands this
 * process sent; a pipelined Redis command counts as one).
 * Prints tables and writes bench/results/queue.json. Cleans up its schemas, files and Redis keys.
 * BENCH_QUEUE_ONLY=sqlite,pg1,pg4,graphile,graphile-batched,graphile-addjobs,bullmq picks variants;
 * BENCH_QUEUE_ROUNDS=3 runs them all three times, in turn, and reports each one's median run.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import type { Queue } from "bullmq";
import type { Logger, WorkerUtils } from "graphile-worker";
import { openStore } from "../src/store/index.js";
import type { StoreParts } from "../src/store/contract.js";
import { openPostgresStore } from "../src/store/postgres/index.js";

const N = Number(process.env.BENCH_QUEUE_N ?? 50_000);
const BATCH = 500;
const CLAIM = 100;
const CONCURRENCY = 4;
const URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const REDIS = { host: "127.0.0.1", port: 6379 };

/**
 * Every query any pg client of this process sends (bg-agent's pool and graphile-worker's alike),
 * and the server process (backend) behind each client, whose CPU is ours to count.
 */
let pgQueries = 0;
const backendCpu = new Map<number, number>();
const clientQuery = pg.Client.prototype.query;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  pgQueries++;
  const pid = (this as { processID?: number | null }).processID;
  if (pid && !backendCpu.has(pid)) backendCpu.set(pid, 0);
  return (clientQuery as (...a: unknown[]) => unknown).apply(this, args);
} as typeof clientQuery;

/**
 * CPU ms so far of the PostgreSQL backends serving this process, read from /proc (the server is
 * local and shared: other clients' backends are not counted, nor its WAL writer, checkpointer or
 * autovacuum). Polled every 100 ms, so a backend that exits keeps its last reading.
 */
function backendCpuMs(): number | null {
  for (const pid of backendCpu.keys()) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      backendCpu.set(pid, ((Number(f[11]) + Number(f[12])) * 1000) / 100); // utime + stime, USER_HZ 100
    } catch {
      /* exited: its last reading stands */
    }
  }
  let total = 0;
  for (const v of backendCpu.values()) total += v;
  return existsSync("/proc/self/stat") ? total : null;
}
setInterval(backendCpuMs, 100).unref();

/** The server's CPU ms so far and the round trips this process made to it. */
type ServerSample = () => Promise<{ cpuMs: number | null; trips: number }>;

const postgresSample: ServerSample = () =>
  Promise.resolve({ cpuMs: backendCpuMs(), trips: pgQueries });

interface Phase {
  seconds: number;
  tasksPerSec: number;
  clientCpuMsPerTask: number;
  serverCpuMsPerTask: number | null;
  roundTripsPerTask: number | null;
}

interface Result {
  name: string;
  tasks: number;
  enqueue: Phase;
  drain: Phase;
  total: Phase;
}

/** Commands this process's Redis clients sent (counted on ioredis' prototype once BullMQ's queue is up). */
let redisCommands = 0;
let redisCounted = false;

async function countRedis(queue: Queue): Promise<{ cpuMs: number; trips: number }> {
  const client = await queue.client;
  if (!redisCounted) {
    const proto = Object.getPrototypeOf(client) as { sendCommand: (...a: unknown[]) => unknown };
    const send = proto.sendCommand;
    proto.sendCommand = function (this: unknown, ...args: unknown[]) {
      redisCommands++;
      return send.apply(this, args);
    };
    redisCounted = true;
  }
  const trips = redisCommands;
  const info = await client.info();
  const num = (k: string) => Number(new RegExp(`^${k}:([\\d.]+)`, "m").exec(info)?.[1] ?? NaN);
  return { cpuMs: (num("used_cpu_user") + num("used_cpu_sys")) * 1000, trips };
}

interface Sample {
  t: number;
  cpu: NodeJS.CpuUsage;
  serverCpu: number | null;
  trips: number | null;
}

async function sample(server: ServerSample | null): Promise<Sample> {
  const sv = server ? await server() : null;
  return {
    t: performance.now(),
    cpu: process.cpuUsage(),
    serverCpu: sv?.cpuMs ?? null,
    trips: sv?.trips ?? null,
  };
}

function phase(a: Sample, b: Sample): Phase {
  const seconds = (b.t - a.t) / 1000;
  const clientMs = (b.cpu.user + b.cpu.system - a.cpu.user - a.cpu.system) / 1000;
  return {
    seconds: +seconds.toFixed(2),
    tasksPerSec: Math.round(N / seconds),
    clientCpuMsPerTask: +(clientMs / N).toFixed(4),
    serverCpuMsPerTask:
      a.serverCpu !== null && b.serverCpu !== null
        ? +((b.serverCpu - a.serverCpu) / N).toFixed(4)
        : null,
    roundTripsPerTask:
      a.trips !== null && b.trips !== null ? +((b.trips - a.trips) / N).toFixed(3) : null,
  };
}

/** A system under test: `enqueue` and `drain` run back to back, each timed on its own. */
interface System {
  name: string;
  /** null: no server (SQLite runs in this process). */
  server: ServerSample | null;
  setup(): Promise<void>;
  enqueue(): Promise<void>;
  /** Resolves to how many tasks were completed. */
  drain(): Promise<number>;
  teardown(): Promise<void>;
}

async function measure(s: System): Promise<Result> {
  await s.setup();
  try {
    const a = await sample(s.server);
    await s.enqueue();
    const b = await sample(s.server);
    const done = await s.drain();
    const c = await sample(s.server);
    if (done !== N) throw new Error(`${s.name}: ${done} of ${N} tasks completed`);
    const r: Result = {
      name: s.name,
      tasks: N,
      enqueue: phase(a, b),
      drain: phase(b, c),
      total: phase(a, c),
    };
    console.error(
      `${s.name}: enqueue ${r.enqueue.tasksPerSec}/s, drain ${r.drain.tasksPerSec}/s, total ${r.total.tasksPerSec}/s`,
    );
    return r;
  } finally {
    await s.teardown();
  }
}

const source = (j: number) => `t:${j}`;

/** What the bg-agent loops use of a store: both engines' stores have it. */
interface QueueStore extends Pick<StoreParts, "tasks" | "stats"> {
  tx<R>(fn: (t: StoreParts) => Promise<R>): Promise<R>;
}

/** bg-agent's worker loop: claim up to 100, then complete the claimed batch (as src/worker/pass.ts). */
async function bgWorker(store: QueueStore, owner: string): Promise<number> {
  let done = 0;
  for (;;) {
    const got = await store.tasks.claim({ owner, leaseMs: 600_000, limit: CLAIM });
    if (!got.length) {
      // Empty can mean "the rest was locked by the other workers' claims": stop when none is pending.
      if ((await store.stats.taskCount({ status: "pending" })) === 0) return done;
      continue;
    }
    // The pass's applyOutcomes: the batch's done tasks completed together.
    done += (
      await store.tasks.completeMany(
        got.map((t) => ({ id: t.id, result: null })),
        owner,
      )
    ).length;
  }
}

async function bgEnqueue(store: QueueStore): Promise<void> {
  for (let i = 0; i < N; i += BATCH) {
    await store.tx(async (t) => {
      for (let j = i; j < Math.min(N, i + BATCH); j++)
        await t.tasks.enqueue({ repo: "o/r", type: "fix", source: source(j) });
    });
  }
}

function sqliteSystem(): System {
  let dir = "";
  let store: Awaited<ReturnType<typeof openStore>> | undefined;
  return {
    name: "bg-agent SQLite, 1 worker",
    server: null,
    async setup() {
      dir = mkdtempSync(join(tmpdir(), "bg-bench-queue-"));
      store = await openStore({ path: join(dir, "bench.db") });
    },
    enqueue: () => bgEnqueue(store!),
    drain: () => bgWorker(store!, "w"),
    async teardown() {
      await store?.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function postgresSystem(workers: number): System {
  const schema = `bg_bench_${process.pid}_${workers}`;
  let store: Awaited<ReturnType<typeof openPostgresStore>> | undefined;
  return {
    name: `bg-agent PostgreSQL, ${workers} worker${workers > 1 ? "s" : ""}`,
    server: postgresSample,
    async setup() {
      store = await openPostgresStore({ url: URL, schema, poolSize: workers + 2 });
    },
    enqueue: () => bgEnqueue(store!),
    async drain() {
      const counts = await Promise.all(
        Array.from({ length: workers }, (_, w) => bgWorker(store!, `w${w}`)),
      );
      return counts.reduce((a, b) => a + b, 0);
    },
    async teardown() {
      if (!store) return;
      await store.pool.query(`DROP SCHEMA "${schema}" CASCADE`);
      await store.close();
    },
  };
}

/** defaults: a job fetched and completed at a time; batched: its documented batching; addJobs: that and bulk enqueue. */
type GraphileMode = "defaults" | "batched" | "addJobs";

function graphileSystem(mode: GraphileMode): System {
  const schema = `gw_bench_${process.pid}_${mode.toLowerCase()}`;
  let utils: WorkerUtils | undefined;
  let logger: Logger | undefined;
  const key = (j: number) => `o/r|fix|${source(j)}`;
  const batching = `localQueue ${CLAIM}, completeJobBatchDelay 0`;
  return {
    name:
      mode === "defaults"
        ? `graphile-worker 0.17, concurrency ${CONCURRENCY}: defaults (add_job a job)`
        : mode === "batched"
          ? `graphile-worker 0.17, concurrency ${CONCURRENCY}: batched (add_job a job; ${batching})`
          : `graphile-worker 0.17, concurrency ${CONCURRENCY}: batched + addJobs (one statement per ${BATCH}; ${batching})`,
    server: postgresSample,
    async setup() {
      const gw = await import("graphile-worker");
      logger = new gw.Logger(() => () => {}); // silent: a log line per job would be measured too
      utils = await gw.makeWorkerUtils({ connectionString: URL, schema, logger });
      await utils.migrate();
    },
    async enqueue() {
      for (let i = 0; i < N; i += BATCH) {
        const end = Math.min(N, i + BATCH);
        if (mode === "addJobs") {
          const specs = [];
          for (let j = i; j < end; j++)
            specs.push({
              identifier: "fix",
              payload: { repo: "o/r", source: source(j) },
              jobKey: key(j),
            });
          await utils!.addJobs(specs);
          continue;
        }
        await utils!.withPgClient(async (c) => {
          await c.query("BEGIN");
          for (let j = i; j < end; j++)
            await c.query(`SELECT "${schema}".add_job('fix', $1::json, job_key := $2)`, [
              JSON.stringify({ repo: "o/r", source: source(j) }),
              key(j),
            ]);
          await c.query("COMMIT");
        });
      }
    },
    async drain() {
      const { run } = await import("graphile-worker");
      let done = 0;
      let finish!: () => void;
      const all = new Promise<void>((r) => (finish = r));
      const runner = await run({
        connectionString: URL,
        schema,
        concurrency: CONCURRENCY,
        noHandleSignals: true,
        logger: logger!,
        pollInterval: 100,
        ...(mode !== "defaults"
          ? { preset: { worker: { localQueue: { size: CLAIM }, completeJobBatchDelay: 0 } } }
          : {}),
        taskList: {
          fix: async () => {
            if (++done === N) finish();
          },
        },
      });
      await all;
      await runner.stop();
      return done;
    },
    async teardown() {
      const c = new pg.Client({ connectionString: URL });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await c.end();
      await utils?.release();
    },
  };
}

function bullmqSystem(): System {
  const prefix = `bgbench${process.pid}`;
  let queue: Queue | undefined;
  return {
    name: `BullMQ 5 (Redis), concurrency ${CONCURRENCY}`,
    server: () => countRedis(queue!),
    async setup() {
      const { Queue } = await import("bullmq");
      queue = new Queue("fix", { connection: REDIS, prefix });
      await queue.waitUntilReady();
    },
    async enqueue() {
      for (let i = 0; i < N; i += BATCH) {
        const jobs = [];
        for (let j = i; j < Math.min(N, i + BATCH); j++)
          jobs.push({
            name: "fix",
            data: { repo: "o/r", source: source(j) },
            opts: { jobId: `o/r|fix|t-${j}`, removeOnComplete: true }, // no ':' in a BullMQ id
          });
        await queue!.addBulk(jobs);
      }
    },
    async drain() {
      const { Worker } = await import("bullmq");
      let done = 0;
      let finish!: () => void;
      const all = new Promise<void>((r) => (finish = r));
      const worker = new Worker(
        "fix",
        async () => {
          if (++done === N) finish();
        },
        { connection: REDIS, prefix, concurrency: CONCURRENCY },
      );
      await all;
      await worker.close();
      return done;
    },
    async teardown() {
      await queue?.obliterate({ force: true }).catch(() => {});
      await queue?.close();
    },
  };
}

const only = process.env.BENCH_QUEUE_ONLY?.split(",");
const want = (n: string) => !only || only.includes(n);
const ROUNDS = Math.max(1, Number(process.env.BENCH_QUEUE_ROUNDS ?? 1));
const variants: [string, () => System][] = [
  ["sqlite", sqliteSystem],
  ["pg1", () => postgresSystem(1)],
  ["pg4", () => postgresSystem(CONCURRENCY)],
  ["graphile", () => graphileSystem("defaults")],
  ["graphile-batched", () => graphileSystem("batched")],
  ["graphile-addjobs", () => graphileSystem("addJobs")],
  ["bullmq", bullmqSystem],
];
const runs = new Map<string, Result[]>();
for (let round = 0; round < ROUNDS; round++) {
  for (const [key, make] of variants) {
    if (!want(key)) continue;
    const r = await measure(make());
    runs.set(key, [...(runs.get(key) ?? []), r]);
  }
}
/** Each variant's median run by total throughput, with every run's total throughput. */
const results = [...runs.values()].map((rs) => {
  const sorted = [...rs].sort((x, y) => x.total.tasksPerSec - y.total.tasksPerSec);
  return {
    ...sorted[Math.floor((sorted.length - 1) / 2)]!,
    totalTasksPerSecRuns: rs.map((r) => r.total.tasksPerSec),
  };
});
const gw =
  results.find((r) => r.name.includes(": batched (")) ??
  results.find((r) => r.name.startsWith("graphile"));
const fmt = (v: number | null | undefined) => (v === null || v === undefined ? "-" : String(v));
console.log(
  `\n${N} tasks, ${ROUNDS === 1 ? "one run" : `median of ${ROUNDS} runs`}; enqueue: one statement a task, ${BATCH} a transaction; drain: claim up to ${CLAIM}, complete; ratio against ${gw?.name ?? "-"}\n`,
);
for (const which of ["total", "enqueue", "drain"] as const) {
  console.log(`${which}:\n`);
  console.log(
    "| system | tasks/s | × graphile | s | client CPU ms/task | server CPU ms/task | round trips/task |",
  );
  console.log("|---|---:|---:|---:|---:|---:|---:|");
  for (const r of results) {
    const p = r[which];
    const ref = gw?.[which];
    console.log(
      `| ${r.name} | ${p.tasksPerSec} | ${ref ? (p.tasksPerSec / ref.tasksPerSec).toFixed(2) : "-"} | ${p.seconds} | ${p.clientCpuMsPerTask} | ${fmt(p.serverCpuMsPerTask)} | ${fmt(p.roundTripsPerTask)} |`,
    );
  }
  console.log("");
}
writeFileSync(
  "bench/results/queue.json",
  JSON.stringify(
    {
      tasks: N,
      rounds: ROUNDS,
      enqueueTransaction: BATCH,
      claimBatch: CLAIM,
      concurrency: CONCURRENCY,
      roundTrips:
        "queries (PostgreSQL) and commands (Redis, pipelined ones counted each) this process sent",
      results,
    },
    null,
    2,
  ) + "\n",
);

/**
 * Intake benchmark: 5,000 signed deliveries over loopback to bg-agent's app and, in the same
 * run, to a bare Probot server whose handlers do nothing. Each server runs in its own process;
 * deliveries alternate between them in chunks so drift affects both alike.
 * Prints events/s, p50/p99 latency and CPU time per delivery for both, and the throughput ratio;
 * writes bench/results/intake.json.
 * Targets: at least 0.8 of bare Probot's throughput, p99 under 50 ms.
 *
 *   npx tsx bench/intake.ts [--deliveries 5000] [--concurrency 16] [--store postgres] [--replicas 2] [--pin]
 *
 * `--store postgres` adds, in the same run, bg-agent's app on the PostgreSQL store (one replica,
 * a throwaway schema dropped at the end); `--replicas 2` also adds two app processes on one
 * schema, each delivery sent to one of them in turn (the same 16 in flight in all). PostgreSQL is
 * BENCH_DATABASE_URL, else DATABASE_URL, else postgres://postgres@127.0.0.1:5432/test. For these
 * the table adds the database's CPU per delivery (its backends' /proc/<pid>/stat, when the server
 * is on this machine) and the round trips per delivery (queries counted in the store's Exec).
 * Target: one replica at least 0.7 of the SQLite app's throughput, p99 under 50 ms. `--pin` puts
 * the load generator and every server on CPU 0 and a local PostgreSQL on the other CPUs
 * (bench/_pin-cpus.ts), so each app has one core and the database others, as on separate hosts,
 * instead of everything sharing every core; such a run writes bench/results/intake-pinned.json.
 *
 * Variants (environment): BENCH_NOSYNC=1 answers after the group COMMIT without the WAL fsync;
 * BENCH_SYNC=FULL opens the store with synchronous=FULL; BENCH_OURS=noop puts Probot's own
 * receive() and a no-op handler behind bg-agent's server (its HTTP layer, dedup and group commit
 * alone); BENCH_PROF=<dir> CPU-profiles bg-agent's server; BENCH_POOL=<n> sets the PostgreSQL
 * servers' pool size (default the store's, BG_DB_POOL_SIZE); BENCH_PG_BASELINE=<checkout> (with
 * `--store postgres`) adds one more PostgreSQL replica running that checkout's code (e.g. a
 * `git archive` of the previous commit with node_modules linked), so a change is compared with
 * what it replaces in one run.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { createHmac, generateKeyPairSync, randomUUID } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { cpus } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BackendCpu } from "./_pg-backend-cpu.js";
import { pinCpus } from "./_pin-cpus.js";
import type { Pinning } from "./_pin-cpus.js";
import {
  benchSchema,
  describeUrl,
  pgExec,
  sampleBackendCpu,
  withApplicationName,
} from "./_pg-backend-cpu.js";

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const flag = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const DELIVERIES = arg("deliveries", 5000);
const REPLICAS = arg("replicas", 1);
const STORE = flag("store") ?? (REPLICAS > 1 ? "postgres" : "sqlite");
if (STORE !== "sqlite" && STORE !== "postgres")
  throw new Error(`--store is sqlite or postgres (got ${STORE})`);
if (REPLICAS !== 1 && REPLICAS !== 2) throw new Error(`--replicas is 1 or 2 (got ${REPLICAS})`);
const PG_URL =
  process.env.BENCH_DATABASE_URL ??
  process.env.DATABASE_URL ??
  "postgres://postgres@127.0.0.1:5432/test";
const CONCURRENCY = arg("concurrency", 16);
const PIN = process.argv.includes("--pin");
const CHUNKS = 5;
const WARMUP = 300;
const REPOS = 50;
const SECRET = "bench-secret";
const PATH = "/api/github/webhooks";

interface Delivery {
  name: string;
  id: string;
  body: string;
  signature: string;
}

const sign = (body: string): string =>
  `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}`;

/** A realistic mix: PR updates, completed check runs, labelled issues, comments. */
function makeDelivery(i: number): Delivery {
  const repoIdx = i % REPOS;
  const repository = {
    id: 1000 + repoIdx,
    name: `repo-${repoIdx}`,
    full_name: `bench/repo-${repoIdx}`,
    default_branch: "main",
    owner: { login: "bench" },
  };
  const installation = { id: 1 };
  const pr = 1 + (i % 40);
  const sha = createHmac("sha1", "x").update(String(i)).digest("hex");
  const human = { login: `dev${i % 7}`, type: "User" };
  const bot = { login: "ci[bot]", type: "Bot" };
  let name: string;
  let payload: unknown;
  switch (i % 10) {
    case 0:
    case 1:
    case 2:
    case 3:
      name = "pull_request";
      payload = {
        action: "synchronize",
        number: pr,
        pull_request: {
          number: pr,
          state: "open",
          draft: false,
          head: { sha },
          base: { ref: "main" },
        },
        repository,
        installation,
        sender: human,
      };
      break;
    case 4:
    case 5:
    case 6:
      name = "check_run";
      payload = {
        action: "completed",
        check_run: {
          id: i,
          head_sha: sha,
          status: "completed",
          conclusion: "success",
          pull_requests: [{ number: pr, base: { repo: { id: repository.id } } }],
        },
        repository,
        installation,
        sender: bot,
      };
      break;
    case 7:
    case 8:
      name = "issues";
      payload = {
        action: "labeled",
        issue: {
          number: 500 + (i % 30),
          title: `Debt ${i % 30}`,
          body: `rev ${Math.floor(i / 300)}`,
          state: "open",
          labels: [{ name: "tech-debt" }],
        },
        repository,
        installation,
        sender: human,
      };
      break;
    default:
      name = "issue_comment";
      payload = {
        action: "created",
        issue: { number: pr },
        comment: { id: i, body: "LGTM" },
        repository,
        installation,
        sender: human,
      };
  }
  const body = JSON.stringify(payload);
  return { name, id: randomUUID(), body, signature: sign(body) };
}

interface BenchServer {
  port: number;
  child: ChildProcess;
  /** The PostgreSQL store's queries so far (null on SQLite or bare Probot). */
  roundTrips(): Promise<number | null>;
  /** Stops the server; resolves with the CPU milliseconds it spent since it started listening. */
  stop(): Promise<number | null>;
}

async function startServer(
  kind: "ours" | "bare" | "noop" | "pg",
  privateKey: string,
  extra: Record<string, string> = {},
  /** Another checkout's bench/_intake-server.ts (BENCH_PG_BASELINE). */
  checkout?: string,
): Promise<BenchServer> {
  const script = checkout
    ? join(checkout, "bench", "_intake-server.ts")
    : fileURLToPath(new URL("./_intake-server.ts", import.meta.url));
  const prof =
    process.env.BENCH_PROF && kind !== "bare"
      ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROF}`]
      : [];
  const child = spawn(process.execPath, [...prof, "--import", "tsx", script, kind], {
    env: {
      ...process.env,
      BENCH_SECRET: SECRET,
      BENCH_PRIVATE_KEY: privateKey,
      BENCH_REPOS: String(REPOS),
      LOG_LEVEL: "fatal",
      NODE_ENV: "production",
      ...extra,
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      // BENCH_LOG_LEVEL: the servers' log lines (Probot's logger writes to stdout) shown here.
      if (process.env.BENCH_LOG_LEVEL)
        process.stderr.write(d.toString().replace(/^(PORT|CPU) \d+\n/gm, ""));
      const m = /PORT (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on("exit", (code) => reject(new Error(`${kind} server exited with ${code}`)));
  });
  const stop = (): Promise<number | null> =>
    new Promise((resolve) => {
      child.on("exit", () => {
        const m = /CPU (\d+)/.exec(out);
        resolve(m ? Number(m[1]) : null);
      });
      child.kill("SIGINT");
    });
  const roundTrips = async (): Promise<number | null> => {
    if (kind === "bare") return null;
    const r = await fetch(`http://127.0.0.1:${port}/bench/round-trips`);
    return ((await r.json()) as { roundTrips: number | null }).roundTrips;
  };
  return { port, child, roundTrips, stop };
}

/** Sends deliveries with `concurrency` in flight (over `ports` in turn); returns per-request latencies (ms) and the elapsed time. */
async function run(
  ports: number[],
  list: Delivery[],
): Promise<{ latencies: number[]; elapsedMs: number; errors: number }> {
  // Connections of its own for each run: a keep-alive socket left idle while other variants ran
  // would be closed by the server (its keep-alive timeout) just as it is reused (ECONNRESET).
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const latencies: number[] = [];
  let errors = 0;
  let next = 0;
  // Several servers (replicas): each delivery to the next one in turn, as a load balancer would.
  const one = (d: Delivery, port: number): Promise<void> =>
    new Promise((resolve) => {
      const t0 = process.hrtime.bigint();
      const req = request(
        {
          host: "127.0.0.1",
          port,
          path: PATH,
          method: "POST",
          agent,
          headers: {
            "content-type": "application/json",
            "content-length": Buffer.byteLength(d.body),
            "x-github-event": d.name,
            "x-github-delivery": d.id,
            "x-hub-signature-256": d.signature,
          },
        },
        (res) => {
          const failed = (res.statusCode ?? 0) >= 300;
          let text = "";
          res.on("data", (c: Buffer) => {
            if (failed) text += c.toString();
          });
          res.on("end", () => {
            latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
            if (failed) {
              errors++;
              if (errors <= 3)
                console.error(`delivery ${d.id} (${d.name}): HTTP ${res.statusCode} ${text}`);
            }
            resolve();
          });
        },
      );
      req.on("error", (e) => {
        console.error(`delivery ${d.id} (${d.name}): ${e.message}`);
        errors++;
        resolve();
      });
      req.end(d.body);
    });
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < list.length) {
        const i = next++;
        await one(list[i]!, ports[i % ports.length]!);
      }
    }),
  );
  const elapsedMs = Number(process.hrtime.bigint() - t0) / 1e6;
  agent.destroy();
  return { latencies, elapsedMs, errors };
}

const pct = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;

function summarise(latencies: number[], elapsedMs: number, errors: number) {
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    deliveries: latencies.length,
    errors,
    eventsPerSec: Math.round((latencies.length / elapsedMs) * 1000),
    p50Ms: Number(pct(sorted, 50).toFixed(2)),
    p99Ms: Number(pct(sorted, 99).toFixed(2)),
    maxMs: Number((sorted[sorted.length - 1] ?? 0).toFixed(2)),
  };
}

type Key = "ours" | "bare" | "pg1" | "pg2" | "pgBase";

interface Variant {
  key: Key;
  label: string;
  servers: BenchServer[];
  /** PostgreSQL variants: their schema, and their backends' application_name. */
  pg?: { schema: string; appName: string; cpu?: BackendCpu };
  acc: { lat: number[]; ms: number; errors: number };
  roundTrips0: number;
}

/** A PostgreSQL variant: `replicas` app processes on one new schema, told apart by application_name. */
async function startPgVariant(
  key: "pg1" | "pg2" | "pgBase",
  replicas: number,
  privateKey: string,
  checkout?: string,
): Promise<Variant> {
  const schema = benchSchema();
  const appName = `bg-bench-${key}-${schema.slice(-6)}`;
  const env = { BENCH_PG_URL: withApplicationName(PG_URL, appName), BENCH_PG_SCHEMA: schema };
  // The first one migrates the schema; the others find it migrated.
  const servers = [await startServer("pg", privateKey, env, checkout)];
  for (let i = 1; i < replicas; i++)
    servers.push(await startServer("pg", privateKey, env, checkout));
  return {
    key,
    label: checkout
      ? `bg-agent, PostgreSQL, baseline (${basename(checkout)})`
      : replicas === 1
        ? "bg-agent, PostgreSQL"
        : `bg-agent, PostgreSQL, ${replicas} replicas`,
    servers,
    pg: { schema, appName },
    acc: { lat: [], ms: 0, errors: 0 },
    roundTrips0: 0,
  };
}

const sumOrNull = (xs: (number | null)[]): number | null =>
  xs.some((x) => x === null) ? null : xs.reduce<number>((a, b) => a + (b ?? 0), 0);

async function main(): Promise<void> {
  const privateKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({
    type: "pkcs1",
    format: "pem",
  }) as string;
  const plain = (key: "ours" | "bare", label: string, server: BenchServer): Variant => ({
    key,
    label,
    servers: [server],
    acc: { lat: [], ms: 0, errors: 0 },
    roundTrips0: 0,
  });
  const variants: Variant[] = [];
  // Before any server starts: they inherit this process's CPU.
  const pinned: Pinning | undefined = PIN ? pinCpus(STORE === "postgres") : undefined;
  if (pinned) {
    console.log(
      `pinned: the load generator and the servers on CPU ${pinned.app}${pinned.postgres ? `, PostgreSQL on CPU ${pinned.postgres}` : ""}`,
    );
    // Stopped (Ctrl-C, a timeout): PostgreSQL gets its CPUs back all the same.
    for (const signal of ["SIGINT", "SIGTERM"] as const)
      process.once(signal, () => {
        pinned.restore();
        for (const x of variants) for (const server of x.servers) server.child.kill();
        process.exit(130);
      });
  }
  try {
    variants.push(
      plain(
        "ours",
        STORE === "postgres" ? "bg-agent, SQLite" : "bg-agent",
        await startServer(process.env.BENCH_OURS === "noop" ? "noop" : "ours", privateKey),
      ),
      plain("bare", "bare Probot", await startServer("bare", privateKey)),
    );
    if (STORE === "postgres") {
      await pgExec(PG_URL, "SELECT 1").catch((e: unknown) => {
        throw new Error(
          `PostgreSQL at ${describeUrl(PG_URL)} is not reachable (${String(e)}): start it or set BENCH_DATABASE_URL`,
        );
      });
      variants.push(await startPgVariant("pg1", 1, privateKey));
      if (REPLICAS === 2) variants.push(await startPgVariant("pg2", 2, privateKey));
      const baseline = process.env.BENCH_PG_BASELINE;
      if (baseline) variants.push(await startPgVariant("pgBase", 1, privateKey, baseline));
    }
    const v = (k: Key) => variants.find((x) => x.key === k);
    const make = (n: number, offset: number) =>
      Array.from({ length: n }, (_, i) => makeDelivery(offset + i));
    for (const x of variants) {
      x.roundTrips0 = sumOrNull(await Promise.all(x.servers.map((s) => s.roundTrips()))) ?? 0;
      if (x.pg) x.pg.cpu = await sampleBackendCpu(PG_URL, x.pg.appName);
    }
    // Warm-up (JIT, connections, SQLite pages, PostgreSQL plans), not counted.
    for (const x of variants)
      await run(
        x.servers.map((s) => s.port),
        make(WARMUP, 0),
      );
    const per = Math.ceil(DELIVERIES / CHUNKS);
    for (let c = 0; c < CHUNKS; c++) {
      const n = Math.min(per, DELIVERIES - c * per);
      // A different order each chunk, so no variant always runs first (or last).
      const order = variants.map((_, i) => variants[(i + c) % variants.length]!);
      for (const x of c % 2 === 0 ? order : order.reverse()) {
        // Fresh delivery ids for each server; the same event mix.
        const r = await run(
          x.servers.map((s) => s.port),
          make(n, WARMUP + c * per),
        );
        x.acc.lat.push(...r.latencies);
        x.acc.ms += r.elapsedMs;
        x.acc.errors += r.errors;
      }
    }
    const handled = WARMUP + DELIVERIES;
    const roundTrips = new Map<Key, number | null>();
    const pgCpu = new Map<Key, number | null>();
    for (const x of variants) {
      const rt = sumOrNull(await Promise.all(x.servers.map((s) => s.roundTrips())));
      roundTrips.set(
        x.key,
        rt === null ? null : Number(((rt - x.roundTrips0) / handled).toFixed(2)),
      );
      if (x.pg?.cpu) {
        const us = await x.pg.cpu.stop();
        pgCpu.set(x.key, us === null ? null : Math.round(us / handled));
      }
    }
    const stats = (await (
      await fetch(`http://127.0.0.1:${v("ours")!.servers[0]!.port}/bench/stats`)
    ).json()) as {
      tasks: { type: string; status: string; count: number }[];
      deliveries: { event: string; count: number }[];
      commits: number | null;
    };
    // CPU time each server process spent (all threads: SQLite, the fsyncs on libuv's pool, GC),
    // per delivery it answered (warm-up included); replicas' processes summed.
    const cpuUs = new Map<Key, number | null>();
    for (const x of variants) {
      const ms = sumOrNull(await Promise.all(x.servers.map((s) => s.stop())));
      cpuUs.set(x.key, ms === null ? null : Math.round((ms * 1000) / handled));
    }
    const sum = new Map(
      variants.map((x) => [x.key, summarise(x.acc.lat, x.acc.ms, x.acc.errors)] as const),
    );
    const ours = sum.get("ours")!;
    const bare = sum.get("bare")!;
    const ratio = Number((ours.eventsPerSec / bare.eventsPerSec).toFixed(3));
    const recorded = stats.deliveries.reduce((n, d) => n + d.count, 0);
    const openTasks = stats.tasks
      .filter((t) => t.status === "pending")
      .reduce((n, t) => n + t.count, 0);
    const show = (x: number | null | undefined): string =>
      x === null || x === undefined ? "—" : String(x);
    const rows = [
      [
        "server",
        "deliveries",
        "errors",
        "events/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "CPU µs/delivery",
        "PostgreSQL CPU µs/delivery",
        "DB round trips/delivery",
      ],
      ...variants.map((x) => {
        const r = sum.get(x.key)!;
        return [
          x.label,
          r.deliveries,
          r.errors,
          r.eventsPerSec,
          r.p50Ms,
          r.p99Ms,
          r.maxMs,
          show(cpuUs.get(x.key)),
          x.pg ? show(pgCpu.get(x.key)) : "—",
          show(roundTrips.get(x.key)),
        ];
      }),
    ].map((r) => r.map(String));
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const r of rows) console.log(r.map((c, i) => c.padStart(widths[i]!)).join("  "));
    const pass = ratio >= 0.8 && ours.p99Ms < 50 && ours.errors === 0;
    console.log(
      `\nthroughput ratio bg-agent / bare Probot: ${ratio} (target >= 0.8); bg-agent p99 ${ours.p99Ms} ms (target < 50) -> ${pass ? "PASS" : "FAIL"}`,
    );
    console.log(
      `bg-agent recorded ${recorded} deliveries in ${stats.commits ?? "?"} group commits; ${openTasks} open tasks after dedup (SQLite file, synchronous=${process.env.BENCH_SYNC ?? "NORMAL"}, ${process.env.BENCH_NOSYNC ? "no fsync before answering" : "WAL fsynced before each answer"})`,
    );
    const pgResult = (k: "pg1" | "pg2" | "pgBase") => {
      const x = v(k);
      if (!x) return undefined;
      const r = sum.get(k)!;
      const app = cpuUs.get(k) ?? null;
      const db = pgCpu.get(k) ?? null;
      return {
        replicas: x.servers.length,
        ...r,
        ratioToSqlite: Number((r.eventsPerSec / ours.eventsPerSec).toFixed(3)),
        cpuUsPerDelivery: app,
        pgBackendCpuUsPerDelivery: db,
        roundTripsPerDelivery: roundTrips.get(k) ?? null,
        // Deliveries per second one core could carry if CPU were the only limit (app + database).
        cpuBoundPerCore: app === null ? null : Math.round(1e6 / (app + (db ?? 0))),
      };
    };
    const pg1 = pgResult("pg1");
    const pg2 = pgResult("pg2");
    const pgBase = pgResult("pgBase");
    const pgPass = pg1
      ? pg1.ratioToSqlite >= 0.7 && pg1.p99Ms < 50 && pg1.errors === 0 && (pg2?.errors ?? 0) === 0
      : undefined;
    if (pg1) {
      console.log(
        `PostgreSQL, one replica / SQLite app: ${pg1.ratioToSqlite} (target >= 0.7); p99 ${pg1.p99Ms} ms (target < 50) -> ${pgPass ? "PASS" : "FAIL"}`,
      );
      if (pg2)
        console.log(
          `PostgreSQL, two replicas / SQLite app: ${pg2.ratioToSqlite}; p99 ${pg2.p99Ms} ms (${pinned ? `both replicas on CPU ${pinned.app}, the database on CPU ${pinned.postgres ?? "?"}` : `both replicas and the database share this machine's ${cpus().length} cores`})`,
        );
      if (pg1.pgBackendCpuUsPerDelivery === null)
        console.log(
          "PostgreSQL backend CPU: not readable (the server is not on this machine, or /proc/<pid>/stat is closed)",
        );
    }
    const result = {
      benchmark: "intake",
      date: new Date().toISOString(),
      node: process.version,
      cpus: cpus().length,
      deliveries: DELIVERIES,
      warmup: WARMUP,
      concurrency: CONCURRENCY,
      pinned: pinned ? { app: pinned.app, postgres: pinned.postgres } : null,
      mix: "40% pull_request.synchronize, 30% check_run.completed, 20% issues.labeled, 10% issue_comment.created over 50 repositories",
      ours: { ...ours, cpuUsPerDelivery: cpuUs.get("ours") ?? null },
      bare: { ...bare, cpuUsPerDelivery: cpuUs.get("bare") ?? null },
      ratio,
      targets: { minRatio: 0.8, maxP99Ms: 50 },
      pass,
      store: {
        synchronous: process.env.BENCH_SYNC ?? "NORMAL",
        walFsyncBeforeAnswer: !process.env.BENCH_NOSYNC,
        recordedDeliveries: recorded,
        commits: stats.commits,
        openTasks,
        tasks: stats.tasks,
      },
      ...(pg1
        ? {
            postgres: {
              server: describeUrl(PG_URL),
              synchronousCommit: "on",
              oneReplica: pg1,
              ...(pg2 ? { twoReplicas: pg2 } : {}),
              ...(pgBase
                ? { baseline: { checkout: process.env.BENCH_PG_BASELINE, ...pgBase } }
                : {}),
              targets: { minRatioToSqlite: 0.7, maxP99Ms: 50 },
              pass: pgPass,
            },
          }
        : {}),
    };
    const dir = fileURLToPath(new URL("./results/", import.meta.url));
    mkdirSync(dir, { recursive: true });
    // A pinned run is its own record: the default one stays comparable with earlier runs.
    const file = pinned ? "intake-pinned.json" : "intake.json";
    writeFileSync(`${dir}${file}`, `${JSON.stringify(result, null, 2)}\n`);
    console.log(`wrote bench/results/${file}`);
  } finally {
    pinned?.restore();
    for (const x of variants) {
      for (const s of x.servers) s.child.kill();
      await x.pg?.cpu?.stop().catch(() => null);
    }
    // The throwaway schemas go once their servers are gone.
    await new Promise((r) => setTimeout(r, 200));
    for (const x of variants)
      if (x.pg)
        await pgExec(PG_URL, `DROP SCHEMA IF EXISTS "${x.pg.schema}" CASCADE`).catch((e: unknown) =>
          console.error(`could not drop schema ${x.pg!.schema}: ${String(e)}`),
        );
  }
}

await main();

/**
 * Intake benchmark: 5,000 signed deliveries over loopback to bg-agent's app and, in the same
 * run, to a bare Probot server whose handlers do nothing. Each server runs in its own process;
 * deliveries alternate between them in chunks so drift affects both alike.
 * Prints events/s, p50/p99 latency and CPU time per delivery for both, and the throughput ratio;
 * writes bench/results/intake.json.
 * Targets: at least 0.8 of bare Probot's throughput, p99 under 50 ms.
 *
 *   npx tsx bench/intake.ts [--deliveries 5000] [--concurrency 16]
 *
 * Variants (environment): BENCH_NOSYNC=1 answers after the group COMMIT without the WAL fsync;
 * BENCH_SYNC=FULL opens the store with synchronous=FULL; BENCH_OURS=noop puts Probot's own
 * receive() and a no-op handler behind bg-agent's server (its HTTP layer, dedup and group commit
 * alone); BENCH_PROF=<dir> CPU-profiles bg-agent's server.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { createHmac, generateKeyPairSync, randomUUID } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const DELIVERIES = arg("deliveries", 5000);
const CONCURRENCY = arg("concurrency", 16);
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

async function startServer(
  kind: "ours" | "bare" | "noop",
  privateKey: string,
): Promise<{ port: number; child: ChildProcess; stop(): Promise<number | null> }> {
  const script = fileURLToPath(new URL("./_intake-server.ts", import.meta.url));
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
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /PORT (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on("exit", (code) => reject(new Error(`${kind} server exited with ${code}`)));
  });
  /** Stops the server; resolves with the CPU milliseconds it spent since it started listening. */
  const stop = (): Promise<number | null> =>
    new Promise((resolve) => {
      child.on("exit", () => {
        const m = /CPU (\d+)/.exec(out);
        resolve(m ? Number(m[1]) : null);
      });
      child.kill("SIGINT");
    });
  return { port, child, stop };
}

/** Sends deliveries with `concurrency` in flight; returns per-request latencies (ms) and the elapsed time. */
async function run(
  port: number,
  agent: Agent,
  list: Delivery[],
): Promise<{ latencies: number[]; elapsedMs: number; errors: number }> {
  const latencies: number[] = [];
  let errors = 0;
  let next = 0;
  const one = (d: Delivery): Promise<void> =>
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
          res.resume();
          res.on("end", () => {
            latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
            if ((res.statusCode ?? 0) >= 300) errors++;
            resolve();
          });
        },
      );
      req.on("error", () => {
        errors++;
        resolve();
      });
      req.end(d.body);
    });
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < list.length) await one(list[next++]!);
    }),
  );
  return { latencies, elapsedMs: Number(process.hrtime.bigint() - t0) / 1e6, errors };
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

async function main(): Promise<void> {
  const privateKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({
    type: "pkcs1",
    format: "pem",
  }) as string;
  const servers = {
    ours: await startServer(process.env.BENCH_OURS === "noop" ? "noop" : "ours", privateKey),
    bare: await startServer("bare", privateKey),
  };
  const agents = {
    ours: new Agent({ keepAlive: true, maxSockets: CONCURRENCY }),
    bare: new Agent({ keepAlive: true, maxSockets: CONCURRENCY }),
  };
  try {
    const make = (n: number, offset: number) =>
      Array.from({ length: n }, (_, i) => makeDelivery(offset + i));
    // Warm-up (JIT, connections, SQLite pages), not counted.
    for (const k of ["bare", "ours"] as const)
      await run(servers[k].port, agents[k], make(WARMUP, 0));
    const acc = {
      ours: { lat: [] as number[], ms: 0, errors: 0 },
      bare: { lat: [] as number[], ms: 0, errors: 0 },
    };
    const per = Math.ceil(DELIVERIES / CHUNKS);
    for (let c = 0; c < CHUNKS; c++) {
      const n = Math.min(per, DELIVERIES - c * per);
      const order = c % 2 === 0 ? (["bare", "ours"] as const) : (["ours", "bare"] as const);
      for (const k of order) {
        // Fresh delivery ids for each server; the same event mix.
        const r = await run(servers[k].port, agents[k], make(n, WARMUP + c * per));
        acc[k].lat.push(...r.latencies);
        acc[k].ms += r.elapsedMs;
        acc[k].errors += r.errors;
      }
    }
    const ours = summarise(acc.ours.lat, acc.ours.ms, acc.ours.errors);
    const bare = summarise(acc.bare.lat, acc.bare.ms, acc.bare.errors);
    const ratio = Number((ours.eventsPerSec / bare.eventsPerSec).toFixed(3));
    const stats = (await (
      await fetch(`http://127.0.0.1:${servers.ours.port}/bench/stats`)
    ).json()) as {
      tasks: { type: string; status: string; count: number }[];
      deliveries: { event: string; count: number }[];
      commits: number | null;
    };
    // CPU time each server process spent (all threads: SQLite, the fsyncs on libuv's pool, GC),
    // per delivery it answered (warm-up included).
    const perDelivery = (ms: number | null) =>
      ms === null ? null : Math.round((ms * 1000) / (WARMUP + DELIVERIES));
    const cpuUs = {
      ours: perDelivery(await servers.ours.stop()),
      bare: perDelivery(await servers.bare.stop()),
    };
    const recorded = stats.deliveries.reduce((n, d) => n + d.count, 0);
    const openTasks = stats.tasks
      .filter((t) => t.status === "pending")
      .reduce((n, t) => n + t.count, 0);
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
      ],
      [
        "bg-agent",
        ours.deliveries,
        ours.errors,
        ours.eventsPerSec,
        ours.p50Ms,
        ours.p99Ms,
        ours.maxMs,
        cpuUs.ours ?? "?",
      ],
      [
        "bare Probot",
        bare.deliveries,
        bare.errors,
        bare.eventsPerSec,
        bare.p50Ms,
        bare.p99Ms,
        bare.maxMs,
        cpuUs.bare ?? "?",
      ],
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
    const result = {
      benchmark: "intake",
      date: new Date().toISOString(),
      node: process.version,
      cpus: cpus().length,
      deliveries: DELIVERIES,
      warmup: WARMUP,
      concurrency: CONCURRENCY,
      mix: "40% pull_request.synchronize, 30% check_run.completed, 20% issues.labeled, 10% issue_comment.created over 50 repositories",
      ours: { ...ours, cpuUsPerDelivery: cpuUs.ours },
      bare: { ...bare, cpuUsPerDelivery: cpuUs.bare },
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
    };
    const dir = fileURLToPath(new URL("./results/", import.meta.url));
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${dir}intake.json`, `${JSON.stringify(result, null, 2)}\n`);
    console.log(`wrote bench/results/intake.json`);
  } finally {
    agents.ours.destroy();
    agents.bare.destroy();
    servers.ours.child.kill();
    servers.bare.child.kill();
  }
}

await main();

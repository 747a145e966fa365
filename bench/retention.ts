/**
 * bench/retention: compacting a store with 1,000,000 runs while webhooks keep arriving.
 *
 * A file-backed store (WAL, synchronous=NORMAL, auto_vacuum=INCREMENTAL as the app opens it, in
 * a temp dir) gets 1,000,000 runs (800,000 older than BG_RETENTION_DAYS=90), 50,000 finished
 * tasks, 20,000 batches and 100,000 deliveries, most of them old. Then the app's compaction runs
 * (500 rows per transaction, yielding between them, then incremental vacuum) while a simulated
 * intake writes a delivery and a task every millisecond. Measured:
 * - compaction time and transactions;
 * - the longest pause intake saw: the largest gap between two 1 ms intake timer fires, and the
 *   event-loop delay (perf_hooks) max and p99 — during compaction and, as a baseline, without it;
 * - the database file size before and after (after a WAL checkpoint).
 * Prints a table, writes bench/results/retention.json. Run: npm run bench:retention
 */
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { openStore } from "../src/store/index.js";
import type { SqliteStore as Store } from "../src/store/index.js";
import { startCheckpointer } from "../src/store/checkpointer.js";
import { compact } from "../src/worker/retention.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 1_000_000);
const OLD_SHARE = 0.8;
const DAY = 86_400_000;
const NOW = Date.now();
const POLICY = { days: 90, auditDays: 365 };

async function fill(store: Store): Promise<void> {
  const db = store.db;
  const run = db.prepare(
    `INSERT INTO runs (repo, kind, ref, status, summary, prompt_tokens, completion_tokens, cost_usd, started_at, finished_at)
     VALUES (?, ?, ?, 'ok', ?, 1200, 300, 0.0004, ?, ?)`,
  );
  const kinds = ["analysis", "automerge", "prompt_task", "command", "fix"];
  const summary = "Analysed 5 issues: 2 proposals, 1 already fixed, 2 need more detail. ".repeat(2);
  const old = Math.floor(RUNS * OLD_SHARE);
  const chunk = 50_000;
  for (let from = 0; from < RUNS; from += chunk) {
    // Raw statements on the same connection: they run inside this transaction.
    await store.tx(async () => {
      for (let i = from; i < Math.min(RUNS, from + chunk); i++) {
        const at =
          i < old
            ? NOW - (91 + (old - i) / 10_000) * DAY
            : NOW - ((i - old) / (RUNS - old)) * 89 * DAY;
        run.run(
          `org-${i % 50}/repo-${i % 500}`,
          kinds[i % 5],
          `issue:${i % 9000}`,
          summary,
          at,
          at + 30_000,
        );
      }
    });
  }
  const task = db.prepare(
    `INSERT INTO tasks (repo, type, source, dedup_key, status, payload, next_run_at, created_at, updated_at)
     VALUES (?, 'tech_debt_analysis', ?, ?, ?, '{"title":"Refactor the queue"}', 0, ?, ?)`,
  );
  const batch = db.prepare(
    `INSERT INTO batches (repo, type, provider, model, status, items, started_at, finished_at)
     VALUES (?, 'tech_debt_analysis', 'openai', 'gpt-4o-mini', 'done', 5, ?, ?)`,
  );
  const bt = db.prepare("INSERT INTO batch_tasks (batch_id, task_id) VALUES (?, ?)");
  const delivery = db.prepare(
    "INSERT INTO deliveries (id, event, action, repo, received_at) VALUES (?, 'issues', 'opened', ?, ?)",
  );
  await store.tx(async () => {
    for (let i = 0; i < 50_000; i++) {
      const at = NOW - (i < 45_000 ? 100 : 10) * DAY;
      task.run(`org-${i % 50}/repo-${i % 500}`, `issue:${i}`, `k${i}`, "done", at, at);
    }
    for (let i = 0; i < 20_000; i++) {
      const at = NOW - (i < 18_000 ? 120 : 5) * DAY;
      const id = Number(batch.run(`org-${i % 50}/repo-${i % 500}`, at, at).lastInsertRowid);
      for (let k = 0; k < 5; k++) bt.run(id, i * 5 + k);
    }
    for (let i = 0; i < 100_000; i++)
      delivery.run(`d-${i}`, `org-${i % 50}/repo-${i % 500}`, NOW - (i < 90_000 ? 95 : 2) * DAY);
  });
}

interface Probe {
  writes: number;
  maxGapMs: number;
  loopDelayMaxMs: number;
  loopDelayP99Ms: number;
}

/** A simulated intake: every 1 ms a delivery and a task, each in its own transaction. */
function startIntake(store: Store): { stop(): Probe } {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  let writes = 0;
  let last = performance.now();
  let maxGap = 0;
  const timer = setInterval(() => {
    const t = performance.now();
    maxGap = Math.max(maxGap, t - last);
    last = t;
    writes++;
    const n = writes;
    void store.tx(async (t) => {
      await t.deliveries.record({ id: `live-${n}`, event: "issues", repo: "o/r" });
      await t.tasks.enqueue({
        repo: "o/r",
        type: "tech_debt_analysis",
        source: `issue:live-${n}`,
      });
    });
  }, 1);
  return {
    stop() {
      clearInterval(timer);
      h.disable();
      return {
        writes,
        maxGapMs: maxGap,
        loopDelayMaxMs: h.max / 1e6,
        loopDelayP99Ms: h.percentile(99) / 1e6,
      };
    },
  };
}

const size = (path: string): number => {
  let n = statSync(path).size;
  try {
    n += statSync(`${path}-wal`).size;
  } catch {
    /* no WAL */
  }
  return n;
};
const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MB`;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "bg-bench-retention-"));
  const path = join(dir, "bg.db");
  try {
    const store = await openStore({ path, synchronous: "NORMAL" });
    const t0 = performance.now();
    await fill(store);
    store.db.prepare("PRAGMA wal_checkpoint(TRUNCATE)").run();
    const fillMs = performance.now() - t0;
    const before = size(path);
    const pending = await store.retention.pending(POLICY, NOW);
    console.log(`filled in ${(fillMs / 1000).toFixed(1)} s: ${mb(before)}; to compact:`, pending);

    // Baseline: the same intake for 2 s with nothing else running.
    const base = startIntake(store);
    await new Promise((r) => setTimeout(r, 2000));
    const baseline = base.stop();

    const probe = startIntake(store);
    const c0 = performance.now();
    const stepMax: Record<string, { steps: number; rows: number; maxMs: number; totalMs: number }> =
      {};
    // As the app runs it: WAL checkpoints on a worker thread (BENCH_CHECKPOINT=inline: SQLite's own, on the event loop).
    const inline = process.env.BENCH_CHECKPOINT === "inline";
    const cp = inline ? null : startCheckpointer(path);
    const result = await compact(store, POLICY, {
      now: NOW,
      ...(cp ? { checkpoint: () => cp.checkpoint() } : {}),
      onStep: (table, rows, ms) => {
        const s = (stepMax[table] ??= { steps: 0, rows: 0, maxMs: 0, totalMs: 0 });
        s.steps++;
        s.rows += rows;
        s.maxMs = Math.max(s.maxMs, ms);
        s.totalMs += ms;
      },
    });
    const compactMs = performance.now() - c0;
    await cp?.close();
    const during = probe.stop();
    store.db.prepare("PRAGMA wal_checkpoint(TRUNCATE)").run();
    const after = size(path);
    const left = await store.runs.count();
    await store.close();

    const deleted = Object.values(result.deleted).reduce((a, b) => a + b, 0);
    const rows: [string, string][] = [
      ["runs in the store", RUNS.toLocaleString("en-US")],
      ["rows deleted (runs, tasks, batches, deliveries)", deleted.toLocaleString("en-US")],
      ["runs left", left.toLocaleString("en-US")],
      ["compaction time", `${(compactMs / 1000).toFixed(2)} s`],
      ["WAL checkpoints", inline ? "inline (SQLite's auto-checkpoint)" : "on a worker thread"],
      ["transactions (at most 500 rows each)", result.steps.toLocaleString("en-US")],
      ["pages given back (incremental vacuum)", result.vacuumedPages.toLocaleString("en-US")],
      ["intake writes during compaction", during.writes.toLocaleString("en-US")],
      ["longest intake pause during compaction", `${during.maxGapMs.toFixed(1)} ms`],
      [
        "event-loop delay max / p99 during",
        `${during.loopDelayMaxMs.toFixed(1)} / ${during.loopDelayP99Ms.toFixed(1)} ms`,
      ],
      ["longest intake pause, baseline (no compaction)", `${baseline.maxGapMs.toFixed(1)} ms`],
      [
        "event-loop delay max / p99, baseline",
        `${baseline.loopDelayMaxMs.toFixed(1)} / ${baseline.loopDelayP99Ms.toFixed(1)} ms`,
      ],
      ["file size before", mb(before)],
      ["file size after", mb(after)],
    ];
    for (const [table, s] of Object.entries(stepMax))
      rows.push([
        `  ${table}: steps, rows, longest / mean step`,
        `${s.steps}, ${s.rows.toLocaleString("en-US")}, ${s.maxMs.toFixed(1)} / ${(s.totalMs / s.steps).toFixed(2)} ms`,
      ]);
    const w = Math.max(...rows.map((r) => r[0].length));
    console.log("\nbench/retention\n");
    for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
    const load = loadavg().map((l) => l.toFixed(2));
    console.log(`\nload average during the run: ${load.join(" ")} on ${cpus().length} cores`);

    const out = join(dirname(fileURLToPath(import.meta.url)), "results", "retention.json");
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(
      out,
      `${JSON.stringify(
        {
          date: new Date().toISOString(),
          runs: RUNS,
          policy: POLICY,
          pendingBefore: pending,
          deleted: result.deleted,
          runsLeft: left,
          compactionMs: Math.round(compactMs),
          checkpoints: inline ? "inline (SQLite auto-checkpoint)" : "worker thread",
          steps: result.steps,
          perTable: stepMax,
          vacuumedPages: result.vacuumedPages,
          during,
          baseline,
          fileBytesBefore: before,
          fileBytesAfter: after,
          fillMs: Math.round(fillMs),
          machine: { cpus: cpus().length, loadavg: loadavg() },
        },
        null,
        2,
      )}\n`,
    );
    console.log(`wrote ${out}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});

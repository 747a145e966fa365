import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { readEnv } from "../../src/env.js";
import type { SqliteStore as Store } from "../../src/store/index.js";
import { openStore } from "../../src/store/index.js";
import { startCheckpointer } from "../../src/store/checkpointer.js";
import { compact } from "../../src/worker/retention.js";

const DAY = 86_400_000;
const NOW = Date.parse("2026-12-01T00:00:00Z");
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), "bg-retention-"));
  dirs.push(d);
  return d;
};

/** Old and recent rows of every table; returns what must survive a 90/365-day compaction. */
async function seed(store: Store, o: { oldRuns?: number } = {}) {
  const db = store.db;
  const run = db.prepare(
    "INSERT INTO runs (repo, kind, status, started_at, finished_at, summary) VALUES ('o/r', 'analysis', ?, ?, ?, ?)",
  );
  const task = db.prepare(
    "INSERT INTO tasks (repo, type, source, dedup_key, status, next_run_at, created_at, updated_at) VALUES ('o/r', 'automerge', ?, ?, ?, 0, ?, ?)",
  );
  const batch = db.prepare(
    "INSERT INTO batches (repo, type, status, started_at, finished_at) VALUES ('o/r', 'tech_debt_analysis', ?, ?, ?)",
  );
  await store.tx(async (txs) => {
    for (let i = 0; i < (o.oldRuns ?? 1200); i++)
      run.run("ok", NOW - 200 * DAY + i, NOW - 200 * DAY + i, "x".repeat(400));
    run.run("running", NOW - 200 * DAY, null, "a zombie run: never compacted"); // kept
    for (let i = 0; i < 30; i++) run.run("ok", NOW - 10 * DAY, NOW - 10 * DAY, "recent"); // kept
    let n = 0;
    const t = (status: string, at: number) => task.run(`pr:${++n}`, `k${n}`, status, at, at);
    for (const s of ["done", "failed", "cancelled"])
      for (let i = 0; i < 5; i++) t(s, NOW - 100 * DAY);
    t("pending", NOW - 100 * DAY); // kept: open work is never compacted
    t("running", NOW - 100 * DAY); // kept
    t("done", NOW - 5 * DAY); // kept
    for (let i = 0; i < 4; i++) {
      const id = Number(batch.run("done", NOW - 120 * DAY, NOW - 120 * DAY).lastInsertRowid);
      db.prepare("INSERT INTO batch_tasks (batch_id, task_id) VALUES (?, ?)").run(id, i + 1);
    }
    batch.run("running", NOW - 120 * DAY, null); // kept
    batch.run("done", NOW - 1 * DAY, NOW - 1 * DAY); // kept
    for (const [id, age] of [
      ["old-1", 95],
      ["old-2", 91],
      ["recent-1", 5],
      ["recent-2", 1],
    ] as const)
      await txs.deliveries.record({ id, event: "push" }, NOW - age * DAY);
    for (const age of [400, 370, 100, 1])
      await txs.audit.write({
        at: NOW - age * DAY,
        actor: "a",
        repo: "o/r",
        target: null,
        command: "pause",
        args: null,
        result: "ok",
        deliveryId: null,
      });
  });
}

const count = (store: Store, table: string): number =>
  (store.db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;

describe("history compaction (BG_RETENTION_DAYS)", () => {
  it("deletes exactly what is older than the policy; open work, running rows and recent rows are kept (lost: 0)", async () => {
    const store = await openStore({ path: join(tmp(), "bg.db") });
    await seed(store);
    const r = await compact(store, { days: 90, auditDays: 365 }, { now: NOW });
    expect(r.deleted).toEqual({ runs: 1200, tasks: 15, batches: 4, deliveries: 2, audit: 2 });
    expect(count(store, "runs")).toBe(31);
    expect(store.db.prepare("SELECT status FROM tasks ORDER BY id").all()).toEqual([
      { status: "pending" },
      { status: "running" },
      { status: "done" },
    ]);
    expect(count(store, "batches")).toBe(2);
    expect(count(store, "batch_tasks")).toBe(0);
    expect(
      (await store.deliveries.has("recent-1")) && (await store.deliveries.has("recent-2")),
    ).toBe(true);
    expect((await store.deliveries.has("old-1")) || (await store.deliveries.has("old-2"))).toBe(
      false,
    );
    expect(count(store, "audit")).toBe(2);
    // A second compaction finds nothing (done twice: 0).
    const again = await compact(store, { days: 90, auditDays: 365 }, { now: NOW });
    expect(Object.values(again.deleted).reduce((a, b) => a + b, 0)).toBe(0);
    await store.close();
  });

  it("deliveries are kept at least 7 days (GitHub's redelivery window) and days: 0 keeps everything", async () => {
    const store = await openStore({ path: ":memory:" });
    await seed(store, { oldRuns: 10 });
    const off = await compact(store, { days: 0, auditDays: 0 }, { now: NOW });
    expect(Object.values(off.deleted).reduce((a, b) => a + b, 0)).toBe(0);
    await store.deliveries.record({ id: "six-days", event: "push" }, NOW - 6 * DAY);
    await store.deliveries.record({ id: "eight-days", event: "push" }, NOW - 8 * DAY);
    await compact(store, { days: 7, auditDays: 365 }, { now: NOW });
    expect(await store.deliveries.has("six-days")).toBe(true);
    expect(await store.deliveries.has("eight-days")).toBe(false);
    expect(() => readEnv({ BG_RETENTION_DAYS: "3" })).toThrow(/BG_RETENTION_DAYS must be 0/);
    expect(readEnv({})).toMatchObject({ BG_RETENTION_DAYS: 90, BG_AUDIT_RETENTION_DAYS: 365 });
  });

  it("works in steps of at most 500 rows, yielding between them: intake writes in between are never lost or blocked", async () => {
    const store = await openStore({ path: join(tmp(), "bg.db") });
    await seed(store);
    let intake = 0;
    const rowsPerStep: number[] = [];
    const r = await compact(
      store,
      { days: 90, auditDays: 365 },
      {
        now: NOW,
        onStep: (table, rows) => {
          if (table === "runs") rowsPerStep.push(rows);
        },
        yieldNow: async () => {
          // A webhook between two steps: recorded in its own transaction, right away.
          await store.deliveries.record({ id: `live-${++intake}`, event: "issues" }, NOW);
          await new Promise((res) => setImmediate(res));
        },
      },
    );
    expect(rowsPerStep.reduce((a, b) => a + b, 0)).toBe(1200);
    expect(Math.max(...rowsPerStep)).toBeLessThanOrEqual(500);
    expect(rowsPerStep.length).toBeGreaterThanOrEqual(3);
    expect(intake).toBeGreaterThanOrEqual(r.steps); // intake ran after every step
    for (let i = 1; i <= intake; i++) expect(await store.deliveries.has(`live-${i}`)).toBe(true); // lost: 0
    await store.close();
  });

  it("every step is served by an index, never a full scan of its table", async () => {
    const store = await openStore({ path: ":memory:" });
    for (const [table, plan] of Object.entries(await store.retention.explain())) {
      expect(plan.join(" | "), table).toMatch(/USING (COVERING )?INDEX|USING INTEGER PRIMARY KEY/);
      expect(plan.join(" | "), table).not.toMatch(/^SCAN \w+$/m);
    }
  });

  it("switches an existing database to incremental auto_vacuum at open, and gives deleted pages back to the file system", async () => {
    const path = join(tmp(), "old.db");
    // A database as an older bg-agent made it: auto_vacuum NONE.
    const old = new Database(path);
    old.pragma("journal_mode = WAL");
    old.exec("CREATE TABLE keep_me (x TEXT); INSERT INTO keep_me VALUES ('data');");
    old.close();
    expect(new Database(path).pragma("auto_vacuum", { simple: true })).toBe(0);

    const store = await openStore({ path });
    expect(await store.retention.autoVacuum()).toBe(2);
    expect(store.db.prepare("SELECT x FROM keep_me").get()).toEqual({ x: "data" }); // lost: 0
    await seed(store, { oldRuns: 20_000 });
    store.db.prepare("PRAGMA wal_checkpoint(TRUNCATE)").all();
    const before = statSync(path).size;
    const r = await compact(store, { days: 90, auditDays: 365 }, { now: NOW });
    expect(r.deleted.runs).toBe(20_000);
    expect(r.vacuumedPages).toBeGreaterThan(0);
    expect(await store.retention.freePages()).toBe(0);
    store.db.prepare("PRAGMA wal_checkpoint(TRUNCATE)").all();
    const after = statSync(path).size;
    expect(after).toBeLessThan(before / 2);
    await store.close();
  });

  it("with WAL checkpoints on a worker thread: the same rows go, the WAL is checkpointed, auto-checkpoint is restored", async () => {
    const path = join(tmp(), "bg.db");
    const store = await openStore({ path });
    await seed(store, { oldRuns: 5_000 });
    const cp = startCheckpointer(path);
    let checkpoints = 0;
    try {
      const r = await compact(
        store,
        { days: 90, auditDays: 365 },
        {
          now: NOW,
          checkpoint: async () => {
            checkpoints++;
            return cp.checkpoint();
          },
        },
      );
      expect(r.deleted).toEqual({ runs: 5_000, tasks: 15, batches: 4, deliveries: 2, audit: 2 });
    } finally {
      await cp.close();
    }
    expect(checkpoints).toBeGreaterThan(1);
    expect(store.db.prepare("PRAGMA wal_autocheckpoint").get()).toEqual({
      wal_autocheckpoint: 1000,
    });
    expect(count(store, "runs")).toBe(31); // lost: 0
    await store.close();
  });

  it("SIGKILL in the middle of a compaction (injected once): the file is intact, nothing kept is lost, the next run finishes (done twice: 0)", async () => {
    const dir = tmp();
    const path = join(dir, "bg.db");
    const store = await openStore({ path });
    await seed(store, { oldRuns: 20_000 });
    await store.close();
    // A child compacts slowly (a pause between steps) and is killed after its first steps.
    const script = join(dir, "child.mts");
    writeFileSync(
      script,
      `import { openStore } from ${JSON.stringify(new URL("../../src/store/index.ts", import.meta.url).pathname)};
import { compact } from ${JSON.stringify(new URL("../../src/worker/retention.ts", import.meta.url).pathname)};
const store = await openStore({ path: ${JSON.stringify(path)} });
let steps = 0;
await compact(store, { days: 90, auditDays: 365 }, { now: ${NOW}, yieldNow: async () => {
  if (++steps === 3) process.stdout.write("3 steps\\n");
  await new Promise((r) => setTimeout(r, 50));
} });
process.stdout.write("finished\\n");
`,
    );
    const child = spawn(process.execPath, ["--import", "tsx", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (b: Buffer) => {
        if (b.toString().includes("3 steps")) {
          child.kill("SIGKILL");
          resolve();
        }
        if (b.toString().includes("finished"))
          reject(new Error("the child finished before the kill"));
      });
      child.on("error", reject);
      child.on("exit", (code) => reject(new Error(`the child exited (${code}) before the kill`)));
    });
    await new Promise((r) => child.on("exit", r));

    const reopened = await openStore({ path });
    expect(reopened.db.prepare("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });
    const left = count(reopened, "runs");
    expect(left).toBeLessThan(20_031); // it had started
    expect(left).toBeGreaterThan(31); // and had not finished
    const r = await compact(reopened, { days: 90, auditDays: 365 }, { now: NOW });
    expect(r.deleted.runs).toBe(left - 31);
    expect(count(reopened, "runs")).toBe(31); // the recent and the running ones: lost 0
    expect(await reopened.deliveries.has("recent-1")).toBe(true);
    await reopened.close();
  }, 30_000);
});

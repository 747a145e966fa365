import type { Logger } from "../log.js";
import type { Store } from "../store/index.js";
import type { RetentionPolicy, RetentionTable } from "../store/retention.js";
import { startCheckpointer } from "../store/checkpointer.js";
import { RETENTION_TABLES } from "../store/retention.js";

export interface CompactOptions {
  now?: number;
  /** Rows per transaction at most (default 500). */
  batch?: number;
  /**
   * A step that takes longer than this halves the rows per transaction (down to 25); a quick
   * one doubles them again (up to `batch`). Default 10 ms: what one webhook may wait.
   */
  maxStepMs?: number;
  /**
   * Checkpoints the WAL off the event loop (a worker thread's connection: src/store/checkpointer.ts).
   * Given, this connection's own auto-checkpoint is off during the compaction and this runs
   * every `checkpointEvery` steps (default 8) and at the end; otherwise SQLite checkpoints inside
   * a step's COMMIT, on the event loop.
   */
  checkpoint?: () => Promise<unknown>;
  checkpointEvery?: number;
  /** Called after each step (benchmarks, logs). */
  onStep?: (table: RetentionTable | "vacuum", rows: number, ms: number) => void;
  /** Pages returned to the file system per incremental_vacuum step (default 256: 1 MB). */
  vacuumPages?: number;
  /** Between steps: lets intake and the worker run (default: setImmediate). */
  yieldNow?: () => Promise<void>;
  /** Checked between steps: the app is shutting down. */
  stopped?: () => boolean;
}

export interface CompactionResult {
  deleted: Record<RetentionTable, number>;
  /** Transactions (steps) it took. */
  steps: number;
  /** Free pages given back (incremental vacuum). */
  vacuumedPages: number;
  ms: number;
}

const MIN_BATCH = 25;
const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * Compacts history older than the policy: each step deletes at most `batch` rows in its own
 * transaction, then yields to the event loop, so a webhook arriving meanwhile waits for one
 * step at most (docs/benchmarks.md: bench/retention.ts measures the longest stall). Then the
 * freed pages are given back to the file system in small incremental_vacuum steps.
 * `days: 0` keeps runs, tasks, batches and deliveries; `auditDays: 0` keeps the audit.
 */
export async function compact(
  store: Store,
  policy: RetentionPolicy,
  o: CompactOptions = {},
): Promise<CompactionResult> {
  const started = Date.now();
  const now = o.now ?? Date.now();
  const batch = o.batch ?? 500;
  const yieldNow = o.yieldNow ?? nextTurn;
  const stopped = o.stopped ?? (() => false);
  const cut = await store.retention.cutoffs(policy, now);
  const deleted = Object.fromEntries(RETENTION_TABLES.map((t) => [t, 0])) as Record<
    RetentionTable,
    number
  >;
  const maxStepMs = o.maxStepMs ?? 10;
  // Start small and grow while steps stay quick: the first step never stalls intake for long.
  let size = Math.min(batch, 50);
  let steps = 0;
  const every = o.checkpointEvery ?? 8;
  const ckpt = o.checkpoint;
  const maybeCheckpoint = async (): Promise<void> => {
    if (ckpt && steps % every === 0) await ckpt().catch(() => undefined);
  };
  if (ckpt) await store.retention.setAutoCheckpoint(0);
  try {
    return await run();
  } finally {
    if (ckpt) {
      await store.retention.setAutoCheckpoint(1000);
      await ckpt().catch(() => undefined);
    }
  }

  async function run(): Promise<CompactionResult> {
    for (const table of RETENTION_TABLES) {
      if (table === "audit" ? policy.auditDays <= 0 : policy.days <= 0) continue;
      for (;;) {
        if (stopped()) break;
        const t0 = performance.now();
        const n = await store.retention.step(table, cut[table], size);
        const ms = performance.now() - t0;
        steps++;
        deleted[table] += n;
        o.onStep?.(table, n, ms);
        const full = n === size;
        if (ms > maxStepMs) size = Math.max(MIN_BATCH, Math.floor(size / 2));
        else if (ms < maxStepMs / 4) size = Math.min(batch, size * 2);
        await maybeCheckpoint();
        await yieldNow();
        if (!full) break;
      }
    }
    let vacuumedPages = 0;
    if ((await store.retention.autoVacuum()) === 2) {
      const pages = o.vacuumPages ?? 256;
      for (let free = await store.retention.freePages(); free > 0 && !stopped();) {
        const t0 = performance.now();
        await store.retention.vacuumStep(pages);
        const after = await store.retention.freePages();
        o.onStep?.("vacuum", free - after, performance.now() - t0);
        vacuumedPages += free - after;
        if (after >= free) break;
        free = after;
        steps++;
        await maybeCheckpoint();
        await yieldNow();
      }
    }
    return { deleted, steps, vacuumedPages, ms: Date.now() - started };
  }
}

export interface RetentionLoop {
  /** Runs a compaction now (or joins the one running). */
  runNow(): Promise<CompactionResult>;
  /** Stops the timer; a running compaction stops after its current step. */
  stop(): Promise<void>;
}

/**
 * The app's compaction timer: the first run `firstDelayMs` after start (default 1 min), then
 * every `everyMinutes` (default 60). Runs never overlap. The timer is unref'd.
 */
export function startRetentionLoop(
  store: Store,
  policy: RetentionPolicy,
  o: {
    log: Logger;
    everyMinutes?: number;
    firstDelayMs?: number;
    batch?: number;
    /** The database file: WAL checkpoints during a compaction then run on a worker thread. */
    dbPath?: string;
    /**
     * Whether this timer's run is due, when replicas share the database (the store's pace: one
     * replica compacts per interval). Default: every tick runs.
     */
    due?: (everyMs: number) => Promise<boolean>;
  },
): RetentionLoop {
  let running: Promise<CompactionResult> | null = null;
  let stopped = false;
  const runNow = (): Promise<CompactionResult> => {
    if (running) return running;
    const cp = o.dbPath && o.dbPath !== ":memory:" ? startCheckpointer(o.dbPath) : null;
    const p = compact(store, policy, {
      stopped: () => stopped,
      ...(o.batch ? { batch: o.batch } : {}),
      ...(cp ? { checkpoint: () => cp.checkpoint() } : {}),
    })
      .then((r) => {
        const total = Object.values(r.deleted).reduce((a, b) => a + b, 0);
        if (total || r.vacuumedPages)
          o.log.info(
            { ...r.deleted, vacuumedPages: r.vacuumedPages, ms: r.ms },
            "history compacted",
          );
        return r;
      })
      .finally(() => {
        running = null;
        void cp?.close();
      });
    running = p;
    return p;
  };
  const everyMs = (o.everyMinutes ?? 60) * 60_000;
  const tick = (): void => {
    if (stopped) return;
    (async () => {
      // A little under the interval: this replica's next tick is due even if the last one ran late.
      if (o.due && !(await o.due(Math.max(0, everyMs - 60_000)))) return;
      await runNow();
    })().catch((e: unknown) => o.log.error({ err: e }, "history compaction failed"));
  };
  const first = setTimeout(tick, o.firstDelayMs ?? 60_000);
  first.unref?.();
  const every = setInterval(tick, everyMs);
  every.unref?.();
  return {
    runNow,
    async stop() {
      stopped = true;
      clearTimeout(first);
      clearInterval(every);
      await running?.catch(() => undefined);
    },
  };
}

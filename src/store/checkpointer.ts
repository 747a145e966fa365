import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

/** A WAL checkpoint run by a second connection on a worker thread, off the event loop. */
export interface Checkpointer {
  /** `PRAGMA wal_checkpoint(PASSIVE)` on the worker: copies what it can, never blocks writers. */
  checkpoint(): Promise<{ log: number; checkpointed: number }>;
  close(): Promise<void>;
}

// Plain CommonJS for an eval'd worker: better-sqlite3 is required by its resolved path.
const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.module);
const db = new Database(workerData.path);
db.pragma("busy_timeout = 1000");
parentPort.on("message", (id) => {
  try {
    const r = db.pragma("wal_checkpoint(PASSIVE)")[0] || {};
    parentPort.postMessage({ id, log: r.log, checkpointed: r.checkpointed });
  } catch (e) {
    parentPort.postMessage({ id, error: String(e && e.message || e) });
  }
});
`;

/**
 * Starts a checkpointer for the database file at `path`. The app's connection turns its own
 * auto-checkpoint off while this one works (see src/worker/retention.ts): a checkpoint copies
 * megabytes from the WAL into the file, which on the event loop is a pause every webhook waiting
 * behind it would feel.
 */
export function startCheckpointer(path: string): Checkpointer {
  const module = createRequire(import.meta.url).resolve("better-sqlite3");
  const worker = new Worker(WORKER, { eval: true, workerData: { module, path } });
  worker.unref();
  let next = 0;
  const waiting = new Map<
    number,
    { resolve: (r: { log: number; checkpointed: number }) => void; reject: (e: Error) => void }
  >();
  const failAll = (e: Error) => {
    for (const w of waiting.values()) w.reject(e);
    waiting.clear();
  };
  worker.on("message", (m: { id: number; log?: number; checkpointed?: number; error?: string }) => {
    const w = waiting.get(m.id);
    if (!w) return;
    waiting.delete(m.id);
    if (m.error) w.reject(new Error(`checkpoint failed: ${m.error}`));
    else w.resolve({ log: m.log ?? 0, checkpointed: m.checkpointed ?? 0 });
  });
  worker.on("error", (e) => failAll(e));
  worker.on("exit", () => failAll(new Error("the checkpoint thread ended")));
  return {
    checkpoint() {
      const id = ++next;
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        worker.postMessage(id);
      });
    },
    async close() {
      await worker.terminate();
    },
  };
}

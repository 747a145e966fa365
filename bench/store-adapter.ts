/**
 * The async adapter's cost per store call (src/store/async-adapter.ts): the same read and write
 * through the synchronous part class and through the async contract (awaited), in memory.
 *
 *   npx tsx bench/store-adapter.ts [--calls 200000]
 *
 * Prints ns per call for both and writes bench/results/store-adapter.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { openSqlite } from "../src/store/db.js";
import { DeliveryStore } from "../src/store/deliveries.js";
import { migrate } from "../src/store/migrations.js";
import { createAsyncStore } from "../src/store/sqlite-store.js";

const i = process.argv.indexOf("--calls");
const CALLS = i > 0 ? Number(process.argv[i + 1]) : 200_000;

// The baseline: the synchronous part class on its own database.
const syncDb = await openSqlite({ path: ":memory:" });
migrate(syncDb);
const sync = { db: syncDb, deliveries: new DeliveryStore(syncDb) };
const asyncStore = createAsyncStore(await openSqlite({ path: ":memory:" }));
sync.deliveries.record({ id: "x", event: "push" });
await asyncStore.deliveries.record({ id: "x", event: "push" });

const time = async (fn: () => unknown | Promise<unknown>): Promise<number> => {
  for (let n = 0; n < 5000; n++) await fn();
  const start = process.hrtime.bigint();
  for (let n = 0; n < CALLS; n++) await fn();
  return Number(process.hrtime.bigint() - start) / CALLS;
};

const rows = [
  {
    op: "deliveries.has (read)",
    sync: await time(() => sync.deliveries.has("x")),
    async: await time(async () => await asyncStore.deliveries.has("x")),
  },
  {
    op: "deliveries.setOutcome (write)",
    sync: await time(() => sync.deliveries.setOutcome("x", "ok")),
    async: await time(async () => await asyncStore.deliveries.setOutcome("x", "ok")),
  },
  {
    op: "tx with one write",
    sync: await time(() => syncDb.transaction(() => sync.deliveries.setOutcome("x", "ok"))()),
    async: await time(
      async () => await asyncStore.tx(async (t) => await t.deliveries.setOutcome("x", "ok")),
    ),
  },
];
console.log("operation                        sync ns/call  async ns/call  overhead ns");
for (const r of rows)
  console.log(
    `${r.op.padEnd(32)} ${r.sync.toFixed(0).padStart(12)} ${r.async.toFixed(0).padStart(14)} ${(r.async - r.sync).toFixed(0).padStart(12)}`,
  );
mkdirSync("bench/results", { recursive: true });
writeFileSync(
  "bench/results/store-adapter.json",
  JSON.stringify({ calls: CALLS, rows }, null, 2) + "\n",
);
syncDb.close();
await asyncStore.close();

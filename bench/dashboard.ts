/**
 * bench/dashboard: the dashboard against a store with 100,000 runs (and 20,000 tasks).
 * Times each admin API call the page makes on load and on every poll, then (when Debian's
 * chromium is installed) the page from navigation to its first full render.
 * Prints a table and writes bench/results/dashboard.json. Run: npx tsx bench/dashboard.ts
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { silentLogger } from "../src/log.js";
import { openSqlite } from "../src/store/db.js";
import { createStore } from "../src/store/index.js";
import type { RunKind } from "../src/core/domain.js";
import { HAVE_CHROMIUM, openChromium } from "../test/helpers/chromium.js";
import { serveWeb, TOKEN } from "../test/web/serve.js";

const RUNS = 100_000;
const TASKS = 20_000;
const REPOS = Array.from({ length: 20 }, (_, i) => `acme/repo-${i}`);
const KINDS: RunKind[] = ["analysis", "automerge", "fix", "prompt_task", "command"];

const dir = mkdtempSync(join(tmpdir(), "bg-bench-dashboard-"));
const store = createStore(await openSqlite({ path: join(dir, "bench.db") }));
const now = Date.now();
const seedStart = performance.now();
await store.tx(async (t) => {
  for (let i = 0; i < RUNS; i++) {
    await t.runs.record({
      repo: REPOS[i % REPOS.length]!,
      kind: KINDS[i % KINDS.length]!,
      ref: `issue:${i}`,
      status: i % 9 === 0 ? "failed" : "ok",
      startedAt: now - (RUNS - i) * 30_000,
      usage: { promptTokens: 1200, cachedTokens: 300, completionTokens: 150, costUsd: 0.002 },
    });
  }
  for (let i = 0; i < TASKS; i++) {
    await t.tasks.enqueue(
      { repo: REPOS[i % REPOS.length]!, type: "tech_debt_analysis", source: `issue:${i}` },
      now - i,
    );
  }
  for (let d = 0; d < 60; d++) {
    for (const r of REPOS)
      await t.spend.add(
        r,
        { promptTokens: 1000, cachedTokens: 100, completionTokens: 100, costUsd: 0.05 },
        now - d * 86_400_000,
      );
  }
});
const seedMs = performance.now() - seedStart;

const served = await serveWeb({ store, log: silentLogger });
const calls = [
  "/bg/api/status",
  "/bg/api/spend?days=30",
  "/bg/api/automerge",
  "/bg/api/batches?limit=10",
  "/bg/api/runs?limit=50",
  "/bg/api/runs?limit=50&before=50000",
  "/bg/api/runs?repo=acme/repo-3&kind=fix&limit=50",
];
const rows: { what: string; p50Ms: number; p99Ms: number; n: number }[] = [];
const N = 50;
for (const path of calls) {
  const t: number[] = [];
  for (let i = 0; i < N; i++) {
    const s = performance.now();
    const res = await fetch(served.url + path, { headers: { authorization: `Bearer ${TOKEN}` } });
    await res.arrayBuffer();
    t.push(performance.now() - s);
  }
  t.sort((a, b) => a - b);
  rows.push({
    what: `GET ${path}`,
    p50Ms: t[Math.floor(N / 2)]!,
    p99Ms: t[Math.min(N - 1, Math.floor(N * 0.99))]!,
    n: N,
  });
}

let pageLoad: { coldMs: number; warmP50Ms: number } | null = null;
if (HAVE_CHROMIUM) {
  const browser = await openChromium("bench-dashboard");
  const { page } = browser;
  await page.goto(`${served.url}/bg`);
  await page.evaluate((t) => sessionStorage.setItem("bg-agent.adminToken", t), TOKEN);
  const times: number[] = [];
  for (let i = 0; i < 6; i++) {
    const s = performance.now();
    await page.goto(`${served.url}/bg`);
    await page.waitForFunction(
      () => document.querySelectorAll("[data-testid=runs-table] tr[data-run-id]").length === 50,
    );
    times.push(performance.now() - s);
  }
  await browser.close();
  const warm = times.slice(1).sort((a, b) => a - b);
  pageLoad = { coldMs: times[0]!, warmP50Ms: warm[Math.floor(warm.length / 2)]! };
  rows.push({
    what: "page /bg to full render (first)",
    p50Ms: pageLoad.coldMs,
    p99Ms: pageLoad.coldMs,
    n: 1,
  });
  rows.push({
    what: "page /bg to full render (reloads)",
    p50Ms: pageLoad.warmP50Ms,
    p99Ms: warm.at(-1)!,
    n: warm.length,
  });
}

await served.close();
await store.close();
rmSync(dir, { recursive: true, force: true });

console.log(
  `dashboard bench: ${RUNS.toLocaleString("en-US")} runs, ${TASKS.toLocaleString("en-US")} tasks, ${REPOS.length} repos (seeded in ${seedMs.toFixed(0)} ms)`,
);
console.log("| what | p50 ms | p99 ms | n |\n|---|---:|---:|---:|");
for (const r of rows)
  console.log(`| ${r.what} | ${r.p50Ms.toFixed(1)} | ${r.p99Ms.toFixed(1)} | ${r.n} |`);
mkdirSync("bench/results", { recursive: true });
writeFileSync(
  "bench/results/dashboard.json",
  `${JSON.stringify({ runs: RUNS, tasks: TASKS, repos: REPOS.length, node: process.version, at: new Date().toISOString(), rows, pageLoad }, null, 2)}\n`,
);

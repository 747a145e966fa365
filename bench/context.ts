/**
 * bench/context: repository maps of real code bases npm installs here (node_modules), and one
 * input of over 1,000 files (several package trees together). For each: files, definitions,
 * build time (cold: first build in the process includes loading the grammars; warm: a second
 * build), map tokens (8,000 budget) and whether two builds give the same bytes (sha256).
 * Target: under 2 s for a 1,000-file repository. Prints a table, writes bench/results/context.json.
 * Run: npm run bench:context
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { MapFile } from "../src/context/repo-map/build.js";
import { buildRepoMap } from "../src/context/repo-map/build.js";
import { silentLogger } from "../src/log.js";

const here = dirname(fileURLToPath(import.meta.url));
const nm = join(here, "..", "node_modules");
const TARGET_MS = 2_000;
const BUDGET = 8_000;

/** Every file under `root` (as `prefix/…`), skipping nested node_modules. */
function tree(root: string, prefix: string): MapFile[] {
  const out: MapFile[] = [];
  const walk = (dir: string, rel: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
      a.name < b.name ? -1 : 1,
    )) {
      const full = join(dir, e.name);
      const r = `${rel}/${e.name}`;
      if (e.isDirectory()) {
        if (e.name !== "node_modules") walk(full, r);
      } else if (e.isFile()) {
        out.push({ path: r, size: statSync(full).size, load: async () => readFileSync(full) });
      }
    }
  };
  walk(root, prefix);
  return out;
}

const inputs: { name: string; files: MapFile[] }[] = [
  { name: "zod/src", files: tree(join(nm, "zod/src"), "zod") },
  { name: "openai/src", files: tree(join(nm, "openai/src"), "openai") },
  { name: "probot/lib", files: tree(join(nm, "probot/lib"), "probot") },
  {
    name: "combined (zod, openai, probot, @octokit, bullmq)",
    files: [
      ...tree(join(nm, "zod/src"), "zod"),
      ...tree(join(nm, "openai/src"), "openai"),
      ...tree(join(nm, "probot/lib"), "probot"),
      ...tree(join(nm, "@octokit"), "octokit"),
      ...tree(join(nm, "bullmq/dist/esm"), "bullmq"),
    ],
  },
];

const sha = (s: string): string => createHash("sha256").update(s).digest("hex");
const rows = [];
for (const { name, files } of inputs) {
  const t0 = performance.now();
  const a = await buildRepoMap(files, { maxTokens: BUDGET, log: silentLogger });
  const cold = performance.now() - t0;
  const t1 = performance.now();
  const b = await buildRepoMap(files, { maxTokens: BUDGET, log: silentLogger });
  const warm = performance.now() - t1;
  const skipped = Object.values(a.skipped).reduce((n, x) => n + x, 0);
  rows.push({
    input: name,
    files: a.files,
    parsed: a.parsed,
    skipped,
    definitions: a.definitions,
    shown: a.shown,
    covered: a.covered,
    tokens: a.tokens,
    coldMs: Math.round(cold),
    warmMs: Math.round(warm),
    identical: sha(a.text) === sha(b.text),
    timedOut: a.timedOut + b.timedOut,
    sha256: sha(a.text),
    underTarget: a.files < 1_000 || warm < TARGET_MS,
  });
}
console.log(
  `Repository map (budget ${BUDGET} tokens), ${cpus().length} cores (${cpus()[0]?.model ?? "?"}), load average ${loadavg()[0]!.toFixed(1)}\n`,
);
console.log(
  "| Input | Files | Parsed | Skipped | Definitions | Shown | Files in map | Tokens | Cold ms | Warm ms | Same bytes |",
);
console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
for (const r of rows)
  console.log(
    `| ${r.input} | ${r.files} | ${r.parsed} | ${r.skipped} | ${r.definitions} | ${r.shown} | ${r.covered} | ${r.tokens} | ${r.coldMs} | ${r.warmMs} | ${r.identical ? "yes" : "NO"} |`,
  );
const big = rows.find((r) => r.files >= 1_000);
console.log(
  big
    ? `\n${big.files}-file input: ${big.warmMs} ms warm, ${big.coldMs} ms cold (target < ${TARGET_MS} ms): ${big.warmMs < TARGET_MS ? "met" : "NOT met"}`
    : "\nno input of 1,000 files",
);
mkdirSync(join(here, "results"), { recursive: true });
writeFileSync(
  join(here, "results", "context.json"),
  `${JSON.stringify({ budgetTokens: BUDGET, targetMs: TARGET_MS, cores: cpus().length, loadAverage: loadavg()[0], rows }, null, 2)}\n`,
);
if (rows.some((r) => !r.identical)) process.exit(1);

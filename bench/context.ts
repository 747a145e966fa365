/**
 * bench/context: repository maps of real code bases npm installs here (node_modules): zod/src,
 * openai/src, probot/lib, exactly 1,000 files (the first 1,000 of the combined input in path
 * order) and the combined input (several package trees together, 1,599 files).
 *
 * Every row runs in a fresh process, so "cold" is a true first build: the tree-sitter runtime and
 * grammars load and compile inside it, nothing is cached. "Warm" is a second build of the same
 * files in that process. For each: wall ms and process CPU ms (process.cpuUsage: every thread,
 * WebAssembly compilation included), files, definitions, map tokens (8,000 budget) and whether the
 * two builds give the same bytes (sha256). Target: a cold build of 1,000 files under 2 s.
 *
 * Every row runs three times (`--runs N`); the run with the median cold time is reported.
 * Run: npm run bench:context
 *      npx tsx bench/context.ts --compare <dir>   also runs every row with the map code under <dir>
 *        (an older commit's src/, inside this checkout so its imports resolve from node_modules:
 *        `mkdir -p .bench-base && git archive main src | tar -x -C .bench-base`, then
 *        `--compare .bench-base/src`; .bench-base is git-ignored), alternating old and new per
 *        row, so both see the same machine state.
 * Prints a table, writes bench/results/context.json.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { z } from "zod";
import type { MapFile, RepoMap, RepoMapOptions } from "../src/context/repo-map/build.js";
import { silentLogger } from "../src/log.js";

const here = dirname(fileURLToPath(import.meta.url));
const nm = join(here, "..", "node_modules");
const TARGET_MS = 2_000;
const TARGET_FILES = 1_000;
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

const byPath = (a: MapFile, b: MapFile): number => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
const combined = (): MapFile[] =>
  [
    ...tree(join(nm, "zod/src"), "zod"),
    ...tree(join(nm, "openai/src"), "openai"),
    ...tree(join(nm, "probot/lib"), "probot"),
    ...tree(join(nm, "@octokit"), "octokit"),
    ...tree(join(nm, "bullmq/dist/esm"), "bullmq"),
  ].sort(byPath);

const INPUTS: readonly { name: string; files: () => MapFile[] }[] = [
  { name: "zod/src", files: () => tree(join(nm, "zod/src"), "zod") },
  { name: "openai/src", files: () => tree(join(nm, "openai/src"), "openai") },
  { name: "probot/lib", files: () => tree(join(nm, "probot/lib"), "probot") },
  {
    name: "1,000 files (the first of combined, path order)",
    files: () => combined().slice(0, 1_000),
  },
  { name: "combined (zod, openai, probot, @octokit, bullmq)", files: combined },
];

const Measured = z.object({
  files: z.number(),
  parsed: z.number(),
  skipped: z.number(),
  definitions: z.number(),
  shown: z.number(),
  covered: z.number(),
  tokens: z.number(),
  coldMs: z.number(),
  warmMs: z.number(),
  coldCpuMs: z.number(),
  warmCpuMs: z.number(),
  identical: z.boolean(),
  timedOut: z.number(),
  sha256: z.string(),
});
type Measured = z.infer<typeof Measured>;

const sha = (s: string): string => createHash("sha256").update(s).digest("hex");
const cpuMs = (u: NodeJS.CpuUsage): number => Math.round((u.user + u.system) / 1000);

/** The child: one row, cold then warm, with the map code under `src`. */
async function measure(row: number, src: string): Promise<Measured> {
  type Build = (input: readonly MapFile[], o: RepoMapOptions) => Promise<RepoMap>;
  const mod: { buildRepoMap: Build } = await import(
    pathToFileURL(join(src, "context/repo-map/build.ts")).href
  );
  const files = INPUTS[row]!.files();
  const opts = { maxTokens: BUDGET, log: silentLogger };
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const a = await mod.buildRepoMap(files, opts);
  const cold = performance.now() - t0;
  const coldCpu = process.cpuUsage(c0);
  const c1 = process.cpuUsage();
  const t1 = performance.now();
  const b = await mod.buildRepoMap(files, opts);
  const warm = performance.now() - t1;
  const warmCpu = process.cpuUsage(c1);
  return {
    files: a.files,
    parsed: a.parsed,
    skipped: Object.values(a.skipped).reduce((n, x) => n + x, 0),
    definitions: a.definitions,
    shown: a.shown,
    covered: a.covered,
    tokens: a.tokens,
    coldMs: Math.round(cold),
    warmMs: Math.round(warm),
    coldCpuMs: cpuMs(coldCpu),
    warmCpuMs: cpuMs(warmCpu),
    identical: sha(a.text) === sha(b.text),
    timedOut: a.timedOut + b.timedOut,
    sha256: sha(a.text),
  };
}

/** Runs one row in a fresh process and reads its result. */
function spawnRow(row: number, src: string): Measured {
  const r = spawnSync(
    process.execPath,
    ["--import", "tsx", fileURLToPath(import.meta.url), "--row", String(row), "--src", src],
    { encoding: "utf8", maxBuffer: 16 * 1024 * 1024 },
  );
  if (r.status !== 0) throw new Error(`row ${row} (${src}) failed: ${r.stderr}`);
  const last = r.stdout.trim().split("\n").at(-1) ?? "";
  return Measured.parse(JSON.parse(last));
}

const Args = z.object({
  row: z.coerce
    .number()
    .int()
    .min(0)
    .max(INPUTS.length - 1)
    .optional(),
  src: z.string().optional(),
  compare: z.string().optional(),
  runs: z.coerce.number().int().min(1).max(9).default(3),
});

function parseArgs(argv: readonly string[]): z.infer<typeof Args> {
  const raw: Record<string, string> = {};
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i]!.replace(/^--/, "");
    raw[k] = argv[i + 1] ?? "";
  }
  return Args.parse(raw);
}

const args = parseArgs(process.argv.slice(2));
const ownSrc = join(here, "..", "src");
if (args.row !== undefined) {
  console.log(JSON.stringify(await measure(args.row, args.src ?? ownSrc)));
} else {
  const baseSrc = args.compare ? resolve(args.compare) : null;
  const rows = [];
  const before = [];
  // Each row `runs` times (old and new alternating), the run with the median cold time reported.
  const median = (ms: Measured[]): Measured =>
    [...ms].sort((a, b) => a.coldMs - b.coldMs)[Math.floor(ms.length / 2)]!;
  for (let i = 0; i < INPUTS.length; i++) {
    const bases: Measured[] = [];
    const nows: Measured[] = [];
    for (let r = 0; r < args.runs; r++) {
      if (baseSrc) bases.push(spawnRow(i, baseSrc));
      nows.push(spawnRow(i, ownSrc));
    }
    const base = baseSrc ? median(bases) : null;
    const m = {
      ...median(nows),
      identical: nows.every((x) => x.identical && x.sha256 === nows[0]!.sha256),
    };
    const underTarget = m.files < TARGET_FILES || m.coldMs < TARGET_MS;
    rows.push({ input: INPUTS[i]!.name, ...m, underTarget });
    if (base)
      before.push({ input: INPUTS[i]!.name, ...base, sameBytesAsNew: base.sha256 === m.sha256 });
  }
  console.log(
    `Repository map (budget ${BUDGET} tokens), ${cpus().length} cores (${cpus()[0]?.model ?? "?"}), load average ${loadavg()[0]!.toFixed(1)}; every row in a fresh process, median of ${args.runs} runs by cold time\n`,
  );
  const head =
    "| Input | Files | Parsed | Skipped | Definitions | Shown | Files in map | Tokens | Cold ms | Cold CPU ms | Warm ms | Warm CPU ms | Same bytes |";
  const line = (label: string, r: Measured): string =>
    `| ${label} | ${r.files} | ${r.parsed} | ${r.skipped} | ${r.definitions} | ${r.shown} | ${r.covered} | ${r.tokens} | ${r.coldMs} | ${r.coldCpuMs} | ${r.warmMs} | ${r.warmCpuMs} | ${r.identical ? "yes" : "NO"} |`;
  console.log(head);
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
  for (let i = 0; i < rows.length; i++) {
    const b = before[i];
    if (b) console.log(line(`${b.input} (before)`, b));
    console.log(line(b ? `${rows[i]!.input} (now)` : rows[i]!.input, rows[i]!));
  }
  for (const b of before)
    if (!b.sameBytesAsNew) console.log(`note: ${b.input}: the map text differs from --compare's`);
  const target = rows.find((r) => r.files === TARGET_FILES);
  console.log(
    target
      ? `\n${target.files}-file input: ${target.coldMs} ms cold (${target.coldCpuMs} ms CPU), ${target.warmMs} ms warm (target < ${TARGET_MS} ms cold): ${target.underTarget ? "met" : "NOT met"}`
      : `\nno input of ${TARGET_FILES} files`,
  );
  mkdirSync(join(here, "results"), { recursive: true });
  writeFileSync(
    join(here, "results", "context.json"),
    `${JSON.stringify(
      {
        budgetTokens: BUDGET,
        targetMs: TARGET_MS,
        targetFiles: TARGET_FILES,
        cores: cpus().length,
        loadAverage: loadavg()[0],
        runs: args.runs,
        rows,
        ...(before.length ? { before } : {}),
      },
      null,
      2,
    )}\n`,
  );
  if (rows.some((r) => !r.identical)) process.exit(1);
}

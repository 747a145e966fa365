import { existsSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { parseArgs } from "node:util";
import { z } from "zod";
import type { Llm } from "../llm/types.js";
import { openSqlite } from "../store/db.js";
import { migrateStoreFromEnv, openStoreFromEnv } from "../store/open.js";
import { dayKey } from "../store/spend.js";
import type { RunSummary } from "../worker/runner.js";
import { CONFIG_PATH } from "../config/load.js";
import { MAX_CONFIG_BYTES, tooLargeMessage } from "../config/size.js";
import { formatValidation, validateConfigText } from "../config/validate-file.js";
import type { FileValidation } from "../config/validate-file.js";
import { RunError, runStandalone } from "../worker/standalone.js";
import type { StandaloneOptions } from "../worker/standalone.js";
import { runOptions } from "../worker/run-options.js";
import type { Processor, ProcessorContext } from "../core/worker-contract.js";
import { MODES } from "../core/worker-contract.js";
import type { LogLevel } from "./log.js";
import { streamLogger } from "./log.js";
import { errText } from "../util/errors.js";
import { extendsAllowEnv } from "../env.js";

export const USAGE = `bg-agent: a background agent for GitHub repositories

Usage:
  bg-agent run --once [--repo owner/name] [--mode analyze|automerge|tasks|all] [--dry-run] [--json]
                      [--max-cost-usd N]
      One standalone worker run, as in a CI runner: finds work in the repository, processes it,
      and records the run and the spend in the dashboard issue. --dry-run writes nothing.
  bg-agent validate [file]
                      Checks a config file (default .github/bg-agent.yml) offline: no token, no
                      network. Prints each problem with its path and line; exits 1 when invalid.
  bg-agent migrate    Opens the app's database (DATABASE_URL, else BG_DB_PATH) and applies pending
                      migrations (on PostgreSQL under a lock: replicas starting meanwhile wait).
  bg-agent status [--repo owner/name] [--json]
                      Queue counts from the app's database (DATABASE_URL, else BG_DB_PATH).
  bg-agent --help | --version

Environment:
  GITHUB_TOKEN        token for the GitHub API (required by run)
  GITHUB_API_URL      default https://api.github.com (GitHub Enterprise: https://HOST/api/v3)
  GITHUB_REPOSITORY   the default repository (owner/name) for run
  GITHUB_WORKSPACE    the checked-out repository (default: the working directory)
  BG_LLM_PROVIDER, BG_LLM_MODEL, BG_LLM_API_KEY, BG_LLM_BASE_URL   the LLM (no key: LLM work is skipped)
  LINEAR_API_KEY, BG_LINEAR_API_URL                               Linear
  BG_ACTIVITY_RECHECK_SECONDS  how often a run re-reads human activity from GitHub (default 60)
  DATABASE_URL        the app's PostgreSQL database, postgres://user:password@host:5432/db (migrate,
                      status); BG_DB_SCHEMA its schema (default public)
  BG_DB_PATH          the app's SQLite database when DATABASE_URL is not set (migrate, status)
  LOG_LEVEL           debug | info | warn | error (default info); logs go to stderr

Exit codes: 0 ok, 1 the run failed, 2 usage error. validate: 1 when the file is invalid.
`;

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

/** What tests may replace. */
export interface CliOverrides {
  processors?: readonly Processor[];
  createLlm?: (ctx: ProcessorContext) => Llm;
  /**
   * GitHub retries (5xx and network errors only, with backoff: about 14 s before a failing
   * request gives up) are on in real runs; tests turn them off so a request nothing answers
   * fails at once.
   */
  githubRetries?: boolean;
}

class UsageError extends Error {}

const repoName = z.string().regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, "must be owner/name");

const envSchema = z.object({
  GITHUB_API_URL: z
    .string()
    .url("GITHUB_API_URL must be a URL such as https://api.github.com")
    .default("https://api.github.com"),
  GITHUB_REPOSITORY: repoName.optional(),
  GITHUB_WORKSPACE: z.string().optional(),
  BG_DB_PATH: z.string().min(1).default("./data/bg-agent.db"),
  LOG_LEVEL: z
    .enum(["debug", "info", "warn", "error"], {
      message: "LOG_LEVEL must be debug, info, warn or error",
    })
    .default("info"),
  LINEAR_API_KEY: z.string().optional(),
  BG_LINEAR_API_URL: z.string().url("BG_LINEAR_API_URL must be a URL").optional(),
  BG_ACTIVITY_RECHECK_SECONDS: z.coerce
    .number({ message: "BG_ACTIVITY_RECHECK_SECONDS must be a number of seconds" })
    .int("BG_ACTIVITY_RECHECK_SECONDS must be a whole number of seconds")
    .min(0, "BG_ACTIVITY_RECHECK_SECONDS must be 0 or more")
    .max(3600, "BG_ACTIVITY_RECHECK_SECONDS must be at most 3600")
    .optional(),
  BG_CONFIG_EXTENDS_ALLOW: extendsAllowEnv,
});

function readCliEnv(env: NodeJS.ProcessEnv) {
  const cleaned = Object.fromEntries(
    Object.entries(env).filter(([, v]) => v !== undefined && v !== ""),
  );
  const r = envSchema.safeParse(cleaned);
  if (!r.success)
    throw new UsageError(
      r.error.issues.map((i) => `${String(i.path[0])}: ${i.message}`).join("\n"),
    );
  return r.data;
}

const version = (): string => {
  try {
    return (createRequire(import.meta.url)("../../package.json") as { version: string }).version;
  } catch {
    return "unknown";
  }
};

/** The CLI: returns the exit code (0 ok, 1 failed, 2 usage). */
export async function main(
  argv: string[],
  env: NodeJS.ProcessEnv,
  io: CliIo,
  overrides: CliOverrides = {},
): Promise<number> {
  try {
    const [command, ...rest] = argv;
    if (!command || command === "--help" || command === "-h" || command === "help") {
      io.stdout(USAGE);
      return command ? 0 : 2;
    }
    if (command === "--version" || command === "-v") {
      io.stdout(`${version()}\n`);
      return 0;
    }
    switch (command) {
      case "run":
        return await runCommand(rest, env, io, overrides);
      case "validate":
        return validateCommand(rest, io);
      case "migrate":
        return await migrateCommand(rest, env, io);
      case "status":
        return await statusCommand(rest, env, io);
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`bg-agent: ${e.message}\nRun bg-agent --help for usage.\n`);
      return 2;
    }
    io.stderr(`bg-agent: ${errText(e)}\n`);
    return 1;
  }
}

type Flags = Record<string, { type: "string" | "boolean" }>;

/** Parses flags strictly (an unknown flag is a usage error); zod validates the values after. */
function parse(args: string[], options: Flags): Record<string, string | boolean | undefined> {
  try {
    return parseArgs({ args, options, allowPositionals: false, strict: true }).values as Record<
      string,
      string | boolean | undefined
    >;
  } catch (e) {
    throw new UsageError(errText(e).replace(/\. To specify a positional argument.*$/s, ""));
  }
}

async function runCommand(
  args: string[],
  env: NodeJS.ProcessEnv,
  io: CliIo,
  overrides: CliOverrides,
): Promise<number> {
  const v = parse(args, {
    once: { type: "boolean" },
    repo: { type: "string" },
    mode: { type: "string" },
    "dry-run": { type: "boolean" },
    json: { type: "boolean" },
    "max-cost-usd": { type: "string" },
  });
  const flags = z
    .object({
      once: z.literal(true, {
        message: "run needs --once (the continuous worker runs inside the app)",
      }),
      repo: repoName.optional(),
      mode: z.enum(MODES, { message: `--mode must be one of ${MODES.join(", ")}` }).default("all"),
      dryRun: z.boolean().default(false),
      json: z.boolean().default(false),
      maxCostUsd: z.coerce.number({ message: "--max-cost-usd must be a number" }).min(0).optional(),
    })
    .safeParse({
      once: v.once,
      repo: v.repo,
      mode: v.mode,
      dryRun: v["dry-run"],
      json: v.json,
      maxCostUsd: v["max-cost-usd"],
    });
  if (!flags.success)
    throw new UsageError(
      flags.error.issues
        .map((i) => (i.path[0] === "repo" ? `--repo ${i.message}` : i.message))
        .join("; "),
    );
  const f = flags.data;
  const e = readCliEnv(env);
  const token = env.GITHUB_TOKEN?.trim() || env.GH_TOKEN?.trim();
  if (!token)
    throw new UsageError(
      "GITHUB_TOKEN is not set: export a token that can read and write the repository's issues and pull requests",
    );
  const repo = f.repo ?? e.GITHUB_REPOSITORY;
  if (!repo) throw new UsageError("no repository: pass --repo owner/name or set GITHUB_REPOSITORY");

  const log = streamLogger(e.LOG_LEVEL as LogLevel, io.stderr);
  const opts: StandaloneOptions = runOptions({
    repo,
    mode: f.mode,
    dryRun: f.dryRun,
    github: { token, apiUrl: e.GITHUB_API_URL, retries: overrides.githubRetries },
    openDb: () => openSqlite({ path: ":memory:" }),
    log,
    llm: {
      provider: env.BG_LLM_PROVIDER,
      model: env.BG_LLM_MODEL,
      apiKey: env.BG_LLM_API_KEY,
      baseUrl: env.BG_LLM_BASE_URL,
    },
    createLlm: overrides.createLlm,
    processors: overrides.processors,
    linear: { apiKey: e.LINEAR_API_KEY, apiUrl: e.BG_LINEAR_API_URL },
    workspace: e.GITHUB_WORKSPACE ?? process.cwd(),
    configExtendsAllow: e.BG_CONFIG_EXTENDS_ALLOW,
    maxCostUsd: f.maxCostUsd,
    owner: `cli:${process.pid}`,
    activityRecheckSeconds: e.BG_ACTIVITY_RECHECK_SECONDS,
  });
  let summary: RunSummary;
  try {
    summary = await runStandalone(opts);
  } catch (err) {
    if (err instanceof RunError) {
      io.stderr(`bg-agent: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  io.stdout(f.json ? `${JSON.stringify(summary, null, 2)}\n` : formatSummary(summary));
  return summary.errors.length ? 1 : 0;
}

const usd = (n: number): string => `$${n.toFixed(n > 0 && n < 0.01 ? 4 : 2)}`;

/** The run's result for a terminal. */
export function formatSummary(s: RunSummary): string {
  const lines = [
    `bg-agent ${s.mode} on ${s.repo}${s.dryRun ? " (dry run)" : ""}: analysed ${s.analysed}, merged ${s.merged}, skipped ${s.skipped.length}, failed ${s.failed.length}`,
    `tokens ${s.tokens.total} (cached ${s.tokens.cached}), cost ${usd(s.costUsd)}; budget today ${usd(s.budget.spentTodayUsd)} of ${usd(s.budget.dailyUsd)}, month ${usd(s.budget.spentMonthUsd)} of ${usd(s.budget.monthlyUsd)}`,
  ];
  if (s.budget.stopped) lines.push(s.budget.stopped);
  for (const i of s.items)
    lines.push(`  ${i.outcome.padEnd(7)} ${i.type} ${i.item}${i.detail ? `: ${i.detail}` : ""}`);
  for (const x of s.skipped.filter((k) => !k.item)) lines.push(`  held back: ${x.reason}`);
  for (const n of s.notes) lines.push(`note: ${n}`);
  for (const e of s.errors) lines.push(`problem: ${e}`);
  if (s.dashboard) lines.push(`dashboard: ${s.dashboard.url}`);
  return `${lines.join("\n")}\n`;
}

/** `bg-agent validate [file]`: offline, no token; 0 valid, 1 invalid or unreadable. */
function validateCommand(args: string[], io: CliIo): number {
  if (args.length > 1 || args[0]?.startsWith("-"))
    throw new UsageError(
      args[0]?.startsWith("-") ? `validate takes no flag ${args[0]}` : "validate takes one file",
    );
  const file = args[0] ?? CONFIG_PATH;
  let v: FileValidation;
  try {
    const st = statSync(file);
    if (!st.isFile()) {
      io.stderr(`bg-agent: ${file} is not a file\n`);
      return 1;
    }
    v =
      st.size > MAX_CONFIG_BYTES
        ? {
            ok: false,
            notes: [],
            problems: [{ path: "(file)", message: tooLargeMessage(file, st.size) }],
          }
        : validateConfigText(readFileSync(file, "utf8"), file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    io.stderr(
      code === "ENOENT"
        ? `bg-agent: no file ${file}: pass the config's path (bg-agent validate path/to/bg-agent.yml)\n`
        : `bg-agent: cannot read ${file}: ${(e as Error).message}\n`,
    );
    return 1;
  }
  io.stdout(formatValidation(file, v));
  return v.ok ? 0 : 1;
}

async function migrateCommand(args: string[], env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  parse(args, {});
  const e = readCliEnv(env);
  const postgres = Boolean(env.DATABASE_URL?.trim());
  const r = await migrateStoreFromEnv({ ...env, BG_DB_PATH: e.BG_DB_PATH });
  io.stdout(
    r.created
      ? `${r.where}: created the ${postgres ? "tables" : "database"} at schema version ${r.version}\n`
      : r.before < r.version
        ? `${r.where}: migrated from schema version ${r.before} to ${r.version}\n`
        : `${r.where}: schema version ${r.version}, already current (nothing to do)\n`,
  );
  return 0;
}

async function statusCommand(args: string[], env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  const v = parse(args, { repo: { type: "string" }, json: { type: "boolean" } });
  if (v.repo !== undefined && !repoName.safeParse(v.repo).success)
    throw new UsageError("--repo must be owner/name");
  const e = readCliEnv(env);
  const postgres = Boolean(env.DATABASE_URL?.trim());
  if (!postgres && e.BG_DB_PATH !== ":memory:" && !existsSync(e.BG_DB_PATH)) {
    io.stderr(
      `bg-agent: no database at ${e.BG_DB_PATH}: set BG_DB_PATH (or DATABASE_URL), or run bg-agent migrate to create it\n`,
    );
    return 1;
  }
  const store = await openStoreFromEnv({ ...env, BG_DB_PATH: e.BG_DB_PATH });
  const repo = typeof v.repo === "string" ? v.repo : undefined;
  let counts: Awaited<ReturnType<typeof store.tasks.counts>>;
  let oldest: number;
  let spend: Awaited<ReturnType<typeof store.spend.daily>>;
  try {
    counts = await store.tasks.counts(repo);
    oldest = await store.tasks.oldestPendingAge();
    spend = await store.spend.daily(dayKey(Date.now()), repo);
  } finally {
    // A PostgreSQL pool left open would keep the command from exiting.
    await store.close();
  }
  if (v.json) {
    io.stdout(
      `${JSON.stringify({ tasks: counts, oldestPendingMs: oldest, spendToday: spend[0]?.costUsd ?? 0 }, null, 2)}\n`,
    );
    return 0;
  }
  if (!counts.length) io.stdout("No tasks.\n");
  else {
    const rows = [
      ["REPOSITORY", "TYPE", "STATUS", "COUNT"],
      ...counts.map((c) => [c.repo, c.type, c.status, String(c.count)]),
    ];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const r of rows)
      io.stdout(
        `${r.map((c, i) => (i === 3 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ")}\n`,
      );
  }
  io.stdout(
    `oldest due task waiting: ${Math.round(oldest / 1000)}s; spent today: ${usd(spend[0]?.costUsd ?? 0)}\n`,
  );
  return 0;
}

/**
 * PostgreSQL for bench/intake.ts: a throwaway schema per variant, and the CPU time the server's
 * backends spent for one variant's connections. The variant's pool connects with its own
 * `application_name` (in the URL, which overrides the store's), the backends are found in
 * pg_stat_activity and their user + system time read from /proc/<pid>/stat while the run goes
 * on, so a backend that exits is still counted up to its last sample. Only possible when the
 * server runs on this machine (otherwise `available` is false and the figure is left out).
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import pg from "pg";

/** The URL with `application_name` set, so the variant's backends can be told apart. */
export function withApplicationName(url: string, name: string): string {
  const u = new URL(url);
  u.searchParams.set("application_name", name);
  return u.toString();
}

/** `postgres://host:port/db`, without credentials, for the report. */
export function describeUrl(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.hostname}${u.port ? `:${u.port}` : ""}${u.pathname}`;
}

export const benchSchema = (): string => `bg_bench_${randomBytes(5).toString("hex")}`;

/** Runs one statement on its own connection (schema drops, probes). */
export async function pgExec(url: string, sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

const ticksPerSecond = (): number => {
  const r = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
};

/** utime + stime of a process, in clock ticks; null when it is not readable (gone, or remote). */
function cpuTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return null;
  }
}

export interface BackendCpu {
  /** CPU microseconds the variant's backends spent since sampling began; null when none was readable. */
  stop(): Promise<number | null>;
}

/** Samples the CPU of the backends whose application_name is `name`, every `everyMs`. */
export async function sampleBackendCpu(
  url: string,
  name: string,
  everyMs = 200,
): Promise<BackendCpu> {
  const client = new pg.Client({ connectionString: withApplicationName(url, "bg-bench-sampler") });
  await client.connect();
  const first = new Map<number, number>();
  const last = new Map<number, number>();
  const sample = async (): Promise<void> => {
    const { rows } = await client.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE application_name = $1",
      [name],
    );
    for (const { pid } of rows) {
      const t = cpuTicks(pid);
      if (t === null) continue;
      if (!first.has(pid)) first.set(pid, t);
      last.set(pid, t);
    }
  };
  await sample();
  // Backends that exist now count from now; ones that connect later count from their start.
  const base = new Map(first);
  let pending: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    pending = pending.then(sample).catch(() => {});
  }, everyMs);
  const hz = ticksPerSecond();
  let stopped: Promise<number | null> | undefined;
  return { stop: () => (stopped ??= finish()) };

  async function finish(): Promise<number | null> {
    clearInterval(timer);
    await pending;
    await sample().catch(() => {});
    await client.end();
    if (last.size === 0) return null;
    let ticks = 0;
    for (const [pid, t] of last) ticks += t - (base.get(pid) ?? 0);
    return Math.round((ticks / hz) * 1e6);
  }
}

/**
 * `--pin` for bench/intake.ts: the load generator and the servers it starts on CPU 0, a local
 * PostgreSQL's processes on the other CPUs, so the app gets a core of its own and the database
 * does not take it (as on separate hosts), instead of all of them sharing every core. The
 * PostgreSQL processes' previous affinity is put back at the end (new backends inherit the
 * postmaster's). Linux only, with `taskset` (util-linux) and `pgrep`, and rights over the
 * server's processes (root, or the postgres user).
 */
import { spawnSync } from "node:child_process";
import { cpus } from "node:os";

export interface Pinning {
  /** Which CPUs each side got, for the report. */
  app: string;
  postgres: string | null;
  /** Puts the PostgreSQL processes' affinity back. */
  restore(): void;
}

const run = (cmd: string, args: string[]): { ok: boolean; out: string } => {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  return { ok: r.status === 0, out: `${r.stdout ?? ""}${r.stderr ?? ""}`.trim() };
};

/** The hex affinity mask `taskset -p` prints for `pid`, or undefined if it cannot be read. */
function maskOf(pid: number): string | undefined {
  const r = run("taskset", ["-p", String(pid)]);
  return r.ok ? /mask:\s*([0-9a-f]+)/i.exec(r.out)?.[1] : undefined;
}

/**
 * Pins this process (and so every server it spawns after this) to CPU 0 and, with `postgres`,
 * every local `postgres` process to CPUs 1..n-1. Throws, saying why, where that cannot be done.
 */
export function pinCpus(postgres: boolean): Pinning {
  const n = cpus().length;
  if (n < 2) throw new Error(`--pin needs at least 2 CPUs (this machine has ${n})`);
  if (!run("taskset", ["-V"]).ok)
    throw new Error("--pin needs taskset (util-linux): install it or run without --pin");
  const rest = n === 2 ? "1" : `1-${n - 1}`;
  const saved = new Map<number, string>();
  const restore = (): void => {
    for (const [pid, mask] of saved) run("taskset", ["-a", "-p", mask, String(pid)]);
  };
  if (postgres) {
    const found = run("pgrep", ["-x", "postgres"]);
    const pids = found.ok ? found.out.split(/\s+/).filter(Boolean).map(Number) : [];
    if (pids.length === 0)
      throw new Error(
        "--pin: no PostgreSQL process on this machine to pin (a remote server needs no pinning: run without --pin)",
      );
    for (const pid of pids) {
      const mask = maskOf(pid);
      if (mask === undefined) continue; // gone meanwhile
      if (!run("taskset", ["-a", "-pc", rest, String(pid)]).ok) {
        restore();
        throw new Error(
          `--pin: cannot set the CPU affinity of PostgreSQL's process ${pid} (run as root or as postgres, or without --pin)`,
        );
      }
      saved.set(pid, mask);
    }
  }
  if (!run("taskset", ["-a", "-pc", "0", String(process.pid)]).ok) {
    restore();
    throw new Error("--pin: cannot set this process's CPU affinity");
  }
  return { app: "0", postgres: postgres ? rest : null, restore };
}

import { spawnSync } from "node:child_process";

/**
 * How a test command is confined:
 * - `pid-namespace`: started under `unshare --pid --fork --kill-child` (util-linux), so it is
 *   process 1 of its own PID namespace. When it ends, or when the `unshare` process dies (killed by
 *   us at the limit, or with the worker), the kernel kills every process left in the namespace,
 *   whatever session or process group they moved to.
 * - `process-tree`: no namespace (not Linux, no `unshare`, not allowed); the run's processes are
 *   found through /proc and killed (see process-tree.ts).
 */
export type Isolation = "pid-namespace" | "process-tree";

/** A command line prefix: the program and its arguments, before `/bin/sh -c <command>`. */
export interface Confinement {
  file: string;
  args: string[];
}

let probed: Confinement | null | undefined;

const works = (c: Confinement): boolean => {
  try {
    const r = spawnSync(c.file, [...c.args, "/bin/sh", "-c", "exit 0"], {
      stdio: "ignore",
      timeout: 5_000,
    });
    return r.status === 0;
  } catch {
    return false;
  }
};

/**
 * How to start a command in its own PID namespace on this machine (tried once per process), or
 * null when it cannot be done. `unshare --pid --fork --kill-child` privileged first, then in a
 * user namespace mapping the current user to itself; each under `setpriv --pdeathsig KILL` where
 * it exists, so `unshare` (and with it the whole namespace) dies with this process, even when this
 * process is killed with SIGKILL.
 */
export function pidNamespace(): Confinement | null {
  if (probed !== undefined) return probed;
  probed = null;
  if (process.platform !== "linux") return probed;
  const base = ["--pid", "--fork", "--kill-child"];
  const unshares = [base, ["--user", "--map-current-user", ...base]].map((a) => [
    "unshare",
    ...a,
    "--",
  ]);
  const candidates: Confinement[] = [
    ...unshares.map((u) => ({ file: "setpriv", args: ["--pdeathsig", "KILL", "--", ...u] })),
    ...unshares.map(([file, ...args]) => ({ file: file!, args })),
  ];
  probed = candidates.find(works) ?? null;
  return probed;
}

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

let probed: string[] | null | undefined;

const works = (args: string[]): boolean => {
  try {
    const r = spawnSync("unshare", [...args, "--", "/bin/sh", "-c", "exit 0"], {
      stdio: "ignore",
      timeout: 5_000,
    });
    return r.status === 0;
  } catch {
    return false;
  }
};

/**
 * The `unshare` arguments that work on this machine (tried once per process: privileged first,
 * then in a user namespace mapping the current user to itself), or null when none does.
 */
export function pidNamespaceArgs(): string[] | null {
  if (probed !== undefined) return probed;
  probed = null;
  if (process.platform !== "linux") return probed;
  const base = ["--pid", "--fork", "--kill-child"];
  for (const args of [base, ["--user", "--map-current-user", ...base]]) {
    if (works(args)) {
      probed = args;
      break;
    }
  }
  return probed;
}

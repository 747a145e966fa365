import type { ChildProcessByStdio } from "node:child_process";
import type { Readable } from "node:stream";
import type { TreeIdentity } from "./process-tree.js";
import { killTree, outputPipes, signalTree } from "./process-tree.js";

export interface SuperviseOptions {
  timeoutMs: number;
  /** Grace between SIGTERM and SIGKILL at the time limit. */
  killGraceMs?: number;
  /** How long output may still arrive after the process exited (its leftovers are killed first). */
  drainMs?: number;
  /** Aborting kills the process tree at once. */
  signal?: AbortSignal;
  /** `BG_AGENT_RUN=<token>` set in the child's environment, to find descendants that left. */
  envMarker?: string;
}

export interface Supervised {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  aborted: boolean;
  /** The spawn failed (no such program, no such directory). */
  error?: Error;
}

type Child = ChildProcessByStdio<null, Readable, Readable>;

/**
 * Watches a child spawned with `detached: true` (its own session and process group) and ends it
 * by its limit, whatever it started: when it exits, what it left behind is killed and the result
 * comes after a short drain of the output (never waiting for pipes a leftover keeps open); at the
 * limit (or on abort) the whole tree gets SIGTERM, then SIGKILL after a grace. Nothing of the tree
 * is alive when the promise resolves (see killTree), except processes that are not ours to kill.
 */
export function supervise(child: Child, o: SuperviseOptions): Promise<Supervised> {
  const drainMs = o.drainMs ?? 300;
  const grace = o.killGraceMs ?? 2_000;
  const tree: TreeIdentity | undefined =
    child.pid === undefined
      ? undefined
      : {
          root: child.pid,
          pipes: outputPipes(child.pid),
          ...(o.envMarker ? { envMarker: o.envMarker } : {}),
        };
  return new Promise((resolve) => {
    let timedOut = false;
    let aborted = false;
    let done = false;
    let closed = false;
    let draining = false;
    let exit: { code: number | null; signal: NodeJS.Signals | null } = { code: null, signal: null };
    const timers: NodeJS.Timeout[] = [];
    const later = (ms: number, fn: () => void): void => {
      timers.push(setTimeout(fn, ms));
    };
    const finish = (error?: Error): void => {
      if (done) return;
      done = true;
      timers.forEach(clearTimeout);
      o.signal?.removeEventListener("abort", onAbort);
      // A leftover we could not kill (another user's, say) must not keep this process waiting.
      child.stdout.destroy();
      child.stderr.destroy();
      resolve({ ...exit, timedOut, aborted, ...(error ? { error } : {}) });
    };
    /** Kill everything that is left, then give the output a moment to drain. */
    const end = async (): Promise<void> => {
      if (tree) await killTree(tree);
      if (done) return;
      if (closed) return finish();
      draining = true;
      later(drainMs, () => finish());
    };
    function onAbort(): void {
      aborted = true;
      timedOut = true;
      void end();
    }
    later(o.timeoutMs, () => {
      timedOut = true;
      if (tree) signalTree(tree, "SIGTERM");
      later(grace, () => void end());
    });
    if (o.signal?.aborted) onAbort();
    else o.signal?.addEventListener("abort", onAbort, { once: true });
    child.on("exit", (code, signal) => {
      exit = { code, signal };
      void end();
    });
    child.on("error", (e) => finish(e));
    child.on("close", () => {
      closed = true;
      if (draining) finish();
    });
  });
}

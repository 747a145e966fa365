import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import type { Isolation } from "./pid-namespace.js";
import { pidNamespace } from "./pid-namespace.js";
import { killOrphans, ownerTag } from "./process-tree.js";
import { supervise } from "./supervise.js";

export interface CommandResult {
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Killed because it ran past its time limit (or its caller gave up on it: `aborted`). */
  timedOut: boolean;
  /** Killed because the caller's signal aborted (the processor's outer deadline). */
  aborted?: boolean;
  /** The end of stdout and stderr, interleaved as they arrived. */
  output: string;
  durationMs: number;
  /** How the run was confined (see pid-namespace.ts). */
  isolation: Isolation;
}

export interface RunCommandOptions {
  cwd: string;
  timeoutMs: number;
  env: NodeJS.ProcessEnv;
  /** How many characters of output to keep (the tail). */
  keepChars?: number;
  /** Grace between SIGTERM and SIGKILL at the time limit. */
  killGraceMs?: number;
  /** How long output may still arrive after the command exited (its leftovers are killed first). */
  drainMs?: number;
  /** `auto` (default): a PID namespace where the machine allows it, else the /proc process tree. */
  isolation?: "auto" | "process-tree";
  /** Aborting kills the run at once (the processor's outer deadline). */
  signal?: AbortSignal;
}

/** The environment variable that marks every process of one run (see process-tree.ts). */
export const RUN_MARKER_VAR = "BG_AGENT_RUN";

let orphansSwept: Promise<number[]> | undefined;

/**
 * Runs a shell command with a time limit so that the run always ends by its limit, whatever the
 * command starts, and nothing it started outlives it:
 * - it is started in its own session and process group and, where the machine allows, as process 1
 *   of its own PID namespace (`unshare`); every process carries a marker in its environment;
 * - when the shell exits, whatever it left behind (background jobs, `setsid`/`nohup` children,
 *   double forks still holding the output pipes) is killed, and the run is resolved after a short
 *   drain of the output: it never waits for pipes a leftover keeps open;
 * - at the limit, the whole tree gets SIGTERM, then SIGKILL after a short grace, and the run is
 *   reported as timed out.
 * The tree is found through /proc: the session and group, the marker, holders of the output pipes,
 * and descendants by parent pid; each is stopped before it is killed, so none forks a survivor
 * (supervise.ts). The namespace dies with this process, even on SIGKILL (pid-namespace.ts); without
 * it, the first run of the next worker kills what a killed worker left (the marker names its owner).
 */
export async function runCommand(command: string, o: RunCommandOptions): Promise<CommandResult> {
  const keep = o.keepChars ?? 64_000;
  const started = Date.now();
  const ns = o.isolation === "process-tree" ? null : pidNamespace();
  const isolation: Isolation = ns ? "pid-namespace" : "process-tree";
  // Once per process: what a previous worker, killed mid-run, left behind.
  orphansSwept ??= killOrphans(RUN_MARKER_VAR).catch(() => []);
  await orphansSwept;
  const token = `${ownerTag()}:${randomUUID()}`;
  const env = { ...o.env, [RUN_MARKER_VAR]: token };
  const child = ns
    ? spawn(ns.file, [...ns.args, "/bin/sh", "-c", command], {
        cwd: o.cwd,
        env,
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
      })
    : spawn(command, {
        cwd: o.cwd,
        env,
        shell: true,
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
      });
  let output = "";
  const append = (chunk: Buffer): void => {
    output += chunk.toString("utf8");
    if (output.length > keep * 2) output = output.slice(-keep);
  };
  child.stdout.on("data", append);
  child.stderr.on("data", append);
  const r = await supervise(child, {
    timeoutMs: o.timeoutMs,
    envMarker: `${RUN_MARKER_VAR}=${token}`,
    ...(o.killGraceMs !== undefined ? { killGraceMs: o.killGraceMs } : {}),
    ...(o.drainMs !== undefined ? { drainMs: o.drainMs } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  });
  return {
    code: r.code,
    signal: r.signal,
    timedOut: r.timedOut,
    ...(r.aborted ? { aborted: true } : {}),
    output: (output + (r.error ? `\n${r.error.message}` : "")).slice(-keep),
    durationMs: Date.now() - started,
    isolation,
  };
}

/** The last `lines` lines (and at most `chars` characters) of an output. */
export function tail(text: string, lines = 60, chars = 4_000): string {
  const t = text.replace(/\s+$/, "").split(/\r?\n/).slice(-lines).join("\n");
  return t.length > chars ? `…${t.slice(-chars)}` : t;
}

/** Variables a test command may see; everything else (tokens, keys) is withheld. */
const PASS_THROUGH = [
  "PATH",
  "HOME",
  "USER",
  "LOGNAME",
  "LANG",
  "LC_ALL",
  "LC_CTYPE",
  "TMPDIR",
  "TEMP",
  "TMP",
  "SHELL",
  "TERM",
  "TZ",
];

/**
 * The environment for running the repository's tests on LLM-written code: no secrets (no
 * GITHUB_TOKEN, BG_LLM_API_KEY, PRIVATE_KEY...), just what a test runner needs to start.
 */
export function testEnvironment(from: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { CI: "true", BG_AGENT_FIX: "1" };
  for (const k of PASS_THROUGH) if (from[k] !== undefined) env[k] = from[k];
  return env;
}

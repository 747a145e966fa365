import { spawn } from "node:child_process";

export interface CommandResult {
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Killed because it ran past its time limit. */
  timedOut: boolean;
  /** The end of stdout and stderr, interleaved as they arrived. */
  output: string;
  durationMs: number;
}

export interface RunCommandOptions {
  cwd: string;
  timeoutMs: number;
  env: NodeJS.ProcessEnv;
  /** How many characters of output to keep (the tail). */
  keepChars?: number;
  /** Grace between SIGTERM and SIGKILL at the time limit. */
  killGraceMs?: number;
}

const killGroup = (pid: number | undefined, signal: NodeJS.Signals): void => {
  if (pid === undefined) return;
  try {
    // A negative pid signals the whole process group: the shell and everything it started.
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is gone already.
  }
};

/**
 * Runs a shell command in its own process group with a time limit. At the limit the whole group
 * gets SIGTERM, then SIGKILL after a short grace, so a hanging test (and whatever it spawned) is
 * stopped and reported as timed out. When the command exits, leftovers in its group are killed too.
 */
export function runCommand(command: string, o: RunCommandOptions): Promise<CommandResult> {
  const keep = o.keepChars ?? 64_000;
  const started = Date.now();
  return new Promise((resolve) => {
    let output = "";
    const append = (chunk: Buffer): void => {
      output += chunk.toString("utf8");
      if (output.length > keep * 2) output = output.slice(-keep);
    };
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    const child = spawn(command, {
      cwd: o.cwd,
      env: o.env,
      shell: true,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.on("data", append);
    child.stderr.on("data", append);
    const limit = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid, "SIGTERM");
      killTimer = setTimeout(() => killGroup(child.pid, "SIGKILL"), o.killGraceMs ?? 2_000);
    }, o.timeoutMs);
    let exit: { code: number | null; signal: NodeJS.Signals | null } = { code: null, signal: null };
    child.on("exit", (code, signal) => {
      exit = { code, signal };
      // Background processes the command left behind would keep the pipes open: end them.
      killGroup(child.pid, "SIGKILL");
    });
    const finish = (extra = ""): void => {
      clearTimeout(limit);
      if (killTimer) clearTimeout(killTimer);
      resolve({
        code: exit.code,
        signal: exit.signal,
        timedOut,
        output: (output + extra).slice(-keep),
        durationMs: Date.now() - started,
      });
    };
    child.on("error", (e) => finish(`\n${e.message}`));
    child.on("close", () => finish());
  });
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

import { readFileSync, readdirSync, readlinkSync } from "node:fs";

/**
 * What identifies the processes of one command run, however they left its process group:
 * the session and group it was started in, an environment marker, and its output pipes.
 */
export interface TreeIdentity {
  /** The pid of the process we spawned (a session and process group leader: `detached`). */
  root?: number;
  /** `BG_AGENT_RUN=<token>` in the environment of the run (inherited unless a process clears it). */
  envMarker?: string;
  /** `/proc/<pid>/fd` link texts of the run's stdout and stderr, e.g. `socket:[1234]`. */
  pipes?: readonly string[];
}

interface ProcStat {
  pid: number;
  ppid: number;
  pgrp: number;
  session: number;
  zombie: boolean;
  /** Clock ticks after boot: with the pid, names one process for good (pids are reused). */
  startTime: number;
}

const PROC = "/proc";

/** `/proc/<pid>/stat`, or undefined when the process is gone (or /proc is not Linux's). */
export function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`${PROC}/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may contain anything, spaces included.
  const close = text.lastIndexOf(")");
  if (close < 0) return undefined;
  const f = text.slice(close + 2).split(" ");
  // state ppid pgrp session ...
  return {
    pid,
    ppid: Number(f[1]),
    pgrp: Number(f[2]),
    session: Number(f[3]),
    zombie: f[0] === "Z" || f[0] === "X",
    startTime: Number(f[19]),
  };
}

/** Whether a process exists and is not a zombie (a zombie is dead: it only waits to be reaped). */
export function isAlive(pid: number): boolean {
  const s = readStat(pid);
  return s !== undefined && !s.zombie;
}

/** The pids of every process /proc shows, or an empty list when there is no /proc. */
export function listPids(): number[] {
  try {
    return readdirSync(PROC)
      .filter((n) => /^\d+$/.test(n))
      .map(Number);
  } catch {
    return [];
  }
}

/** The link texts of a process's stdout and stderr (`socket:[…]`, `pipe:[…]`), where readable. */
export function outputPipes(pid: number | undefined): string[] {
  if (pid === undefined) return [];
  const out: string[] = [];
  for (const fd of [1, 2]) {
    try {
      const link = readlinkSync(`${PROC}/${pid}/fd/${fd}`);
      if (/^(socket|pipe):\[\d+\]$/.test(link)) out.push(link);
    } catch {
      // Gone already, or no /proc.
    }
  }
  return out;
}

const hasMarker = (pid: number, marker: string): boolean => {
  try {
    // NUL-separated NAME=value entries.
    const environ = readFileSync(`${PROC}/${pid}/environ`, "latin1");
    return `\u0000${environ}`.includes(`\u0000${marker}\u0000`);
  } catch {
    return false;
  }
};

const holdsPipe = (pid: number, pipes: ReadonlySet<string>): boolean => {
  let fds: string[];
  try {
    fds = readdirSync(`${PROC}/${pid}/fd`);
  } catch {
    return false;
  }
  for (const fd of fds) {
    try {
      if (pipes.has(readlinkSync(`${PROC}/${pid}/fd/${fd}`))) return true;
    } catch {
      // Closed meanwhile.
    }
  }
  return false;
};

/**
 * Every live process of the run: the root, whatever is in its session or process group, whatever
 * carries its environment marker or holds its output pipes (a `setsid` or double-forked process
 * that left the group), and all their descendants by parent pid. Never this process or pid 1.
 */
export function findTree(id: TreeIdentity): Set<number> {
  const stats = new Map<number, ProcStat>();
  for (const pid of listPids()) {
    const s = readStat(pid);
    if (s && !s.zombie) stats.set(pid, s);
  }
  const pipes = new Set(id.pipes ?? []);
  const found = new Set<number>();
  for (const s of stats.values()) {
    if (s.pid === process.pid || s.pid === 1) continue;
    if (
      (id.root !== undefined &&
        (s.pid === id.root || s.session === id.root || s.pgrp === id.root)) ||
      (id.envMarker !== undefined && hasMarker(s.pid, id.envMarker)) ||
      (pipes.size > 0 && holdsPipe(s.pid, pipes))
    )
      found.add(s.pid);
  }
  // Descendants by parent pid, to a fixed point.
  for (let grew = true; grew;) {
    grew = false;
    for (const s of stats.values()) {
      if (!found.has(s.pid) && found.has(s.ppid) && s.pid !== process.pid) {
        found.add(s.pid);
        grew = true;
      }
    }
  }
  return found;
}

const signal = (pid: number, sig: NodeJS.Signals): void => {
  try {
    process.kill(pid, sig);
  } catch {
    // ESRCH: gone already; EPERM: not ours to signal.
  }
};

/** Sends a signal to every process of the run (and its process group). */
export function signalTree(id: TreeIdentity, sig: NodeJS.Signals): void {
  if (id.root !== undefined) signal(-id.root, sig);
  for (const pid of findTree(id)) signal(pid, sig);
}

/**
 * Kills every process of the run with SIGKILL. Each one found is stopped first (SIGSTOP), and the
 * search repeats until it finds nothing new, so a process cannot fork a survivor between the search
 * and the kill. Resolves when all of them are dead (or after `waitMs`), with the pids it killed.
 */
export async function killTree(id: TreeIdentity, waitMs = 2_000): Promise<number[]> {
  const stopped = new Set<number>();
  if (id.root !== undefined) signal(-id.root, "SIGSTOP");
  for (let round = 0; round < 50; round++) {
    const fresh = [...findTree(id)].filter((p) => !stopped.has(p));
    if (!fresh.length) break;
    for (const pid of fresh) {
      signal(pid, "SIGSTOP");
      stopped.add(pid);
    }
  }
  if (id.root !== undefined) signal(-id.root, "SIGKILL");
  for (const pid of stopped) signal(pid, "SIGKILL");
  const until = Date.now() + waitMs;
  while (Date.now() < until && [...stopped].some(isAlive)) {
    await new Promise((r) => setTimeout(r, 10));
  }
  return [...stopped];
}

/** `<pid>.<start time>` of this process: what run markers name their owner by. */
export function ownerTag(): string {
  return `${process.pid}.${readStat(process.pid)?.startTime ?? 0}`;
}

const ownerAlive = (tag: string): boolean => {
  const [pid, start] = tag.split(".").map(Number);
  if (!pid) return true;
  const s = readStat(pid);
  return s !== undefined && !s.zombie && s.startTime === start;
};

/**
 * Kills what runs of a worker that died left behind: processes whose run marker (`<name>=<owner
 * tag>:<id>`) names an owner that is no longer alive (a worker killed with SIGKILL cannot kill
 * its test commands' processes itself). Runs of live workers are left alone. Returns the pids.
 */
export async function killOrphans(name: string): Promise<number[]> {
  const markers = new Set<string>();
  for (const pid of listPids()) {
    let environ: string;
    try {
      environ = readFileSync(`${PROC}/${pid}/environ`, "latin1");
    } catch {
      continue;
    }
    for (const entry of environ.split("\u0000")) {
      if (!entry.startsWith(`${name}=`)) continue;
      const value = entry.slice(name.length + 1);
      const owner = value.split(":")[0] ?? "";
      if (/^\d+\.\d+$/.test(owner) && !ownerAlive(owner)) markers.add(entry);
    }
  }
  const killed: number[] = [];
  for (const envMarker of markers) killed.push(...(await killTree({ envMarker })));
  return killed;
}

import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { git } from "../../src/processors/fix/git.js";
import { pidNamespace } from "../../src/processors/fix/pid-namespace.js";
import { isAlive } from "../../src/processors/fix/process-tree.js";
import type { RunCommandOptions } from "../../src/processors/fix/run-command.js";
import { runCommand, testEnvironment } from "../../src/processors/fix/run-command.js";

// Real processes, no mocks: each command starts `sleep` processes with a unique duration (the
// marker in their argv) and writes the pids of what it started to a file; afterwards /proc must
// show none of them alive. Lost: a run that never resolves (the test times out). Done twice: n/a.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let dir: string;
let marker: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "bg-tree-"));
  // `sleep 1000.<random>`: GNU sleep takes fractions, and the argv is unique to this test.
  marker = `1000.${Math.floor(Math.random() * 1e9)}`;
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Live processes whose command line contains the marker. */
const survivors = (): number[] => {
  const out: number[] = [];
  for (const n of readdirSync("/proc").filter((x) => /^\d+$/.test(x))) {
    try {
      const argv = readFileSync(`/proc/${n}/cmdline`, "utf8");
      if (argv.includes(marker) && isAlive(Number(n))) out.push(Number(n));
    } catch {
      // Gone.
    }
  }
  return out;
};

/**
 * A recorded pid that is still one of the command's processes: alive and still carrying the
 * marker in its argv (pid_max is 32,768 here, so on a busy machine a pid can be reused within
 * seconds by an unrelated process).
 */
const ours = (pid: number): boolean => {
  try {
    return isAlive(pid) && readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(marker);
  } catch {
    return false;
  }
};

const pidsWritten = (): number[] => {
  try {
    return readFileSync(join(dir, "pids"), "utf8").split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
};

/**
 * Records the shell's pid as /proc shows it (`$$` is 1 or 2 in a PID namespace; /proc is the
 * host's, so /proc/self is the host pid).
 */
const REC = "read p rest < /proc/self/stat; echo $p >> pids;";

const modes: RunCommandOptions["isolation"][] = pidNamespace()
  ? ["auto", "process-tree"]
  : ["process-tree"];

describe.each(modes)("a test command ends by its limit, whatever it spawns (%s)", (isolation) => {
  const run = (command: string, timeoutMs: number, o: Partial<RunCommandOptions> = {}) =>
    runCommand(command, {
      cwd: dir,
      timeoutMs,
      env: testEnvironment(),
      killGraceMs: 300,
      ...(isolation ? { isolation } : {}),
      ...o,
    });

  it("injects a setsid child holding the pipes, then exits: resolved at exit, child killed", async () => {
    // Before: the setsid'd sleep kept stdout open and the run never ended.
    const r = await run(
      `setsid sh -c '${REC} exec sleep ${marker}' & sleep 0.2; echo finished; exit 4`,
      60_000,
    );
    expect(r).toMatchObject({ code: 4, timedOut: false });
    expect(r.output).toContain("finished");
    expect(pidsWritten()).toHaveLength(1);
    expect(survivors()).toEqual([]);
    expect(pidsWritten().filter(ours)).toEqual([]);
  });

  it("injects a setsid child that clears its environment and holds the pipes: killed", async () => {
    const r = await run(
      `setsid env -i /bin/sh -c '${REC} exec sleep ${marker}' & sleep 0.2; exit 0`,
      60_000,
    );
    expect(r).toMatchObject({ code: 0, timedOut: false });
    expect(survivors()).toEqual([]);
    expect(pidsWritten().filter(ours)).toEqual([]);
  });

  it("injects a nohup background job with its output redirected: killed at exit", async () => {
    const r = await run(
      `nohup sh -c '${REC} exec sleep ${marker}' >/dev/null 2>&1 & sleep 0.2; exit 0`,
      60_000,
    );
    expect(r).toMatchObject({ code: 0, timedOut: false });
    expect(survivors()).toEqual([]);
  });

  it("injects a double fork that keeps running: killed at the deadline, none survive", async () => {
    const r = await run(
      `( setsid sh -c '${REC} exec sleep ${marker}' & ) ; ` +
        `( sh -c '${REC} exec sleep ${marker}' & ) ; sleep ${marker}`,
      800,
    );
    expect(r.timedOut).toBe(true);
    expect(pidsWritten()).toHaveLength(2);
    expect(survivors()).toEqual([]);
    expect(pidsWritten().filter(ours)).toEqual([]);
  });

  it("injects a shell and a setsid child that both ignore SIGTERM: killed with SIGKILL", async () => {
    const r = await run(
      `setsid sh -c 'trap "" TERM; ${REC} while :; do sleep ${marker}; done' & ` +
        `trap "" TERM; while :; do sleep ${marker}; done`,
      500,
    );
    expect(r).toMatchObject({ timedOut: true, signal: "SIGKILL" });
    expect(pidsWritten()).toHaveLength(1);
    expect(survivors()).toEqual([]);
    expect(pidsWritten().filter(ours)).toEqual([]);
  });

  it("injects an abort (the outer deadline) mid-run: killed at once, none survive", async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    const r = await run(`setsid sleep ${marker} & sleep ${marker}`, 60_000, {
      signal: ac.signal,
    });
    expect(r).toMatchObject({ timedOut: true, aborted: true });
    expect(survivors()).toEqual([]);
  });

  it("keeps the tail of a long output", async () => {
    const r = await run("seq 1 100000", 60_000, { keepChars: 1_000 });
    expect(r.code).toBe(0);
    expect(r.output.length).toBeLessThanOrEqual(1_000);
    expect(r.output).toContain("100000");
  });
});

describe("isolation", () => {
  it.runIf(pidNamespace() !== null)(
    "injects SIGKILL to the worker process mid-run: no process of its test command survives",
    async () => {
      const worker = spawn(
        process.execPath,
        [
          "--import",
          "tsx",
          "test/fixtures/run-command-child.ts",
          `setsid sh -c '${REC} exec sleep ${marker}' & ${REC} sleep ${marker}`,
          dir,
        ],
        { stdio: "ignore" },
      );
      const exited = new Promise((r) => worker.on("exit", r));
      try {
        // Wait until both processes of the command are running.
        for (let i = 0; i < 600 && pidsWritten().length < 2; i++) await sleep(50);
        expect(pidsWritten()).toHaveLength(2);
        expect(survivors().length).toBeGreaterThan(0);
      } finally {
        worker.kill("SIGKILL");
        await exited;
      }
      // The kernel tears the namespace down: allow it a moment, then none may be left.
      for (let i = 0; i < 100 && survivors().length > 0; i++) await sleep(20);
      expect(survivors()).toEqual([]);
      expect(pidsWritten().filter(ours)).toEqual([]);
    },
  );

  it.runIf(pidNamespace() !== null)(
    "uses a PID namespace where the machine allows it",
    async () => {
      const r = await runCommand("true", { cwd: dir, timeoutMs: 10_000, env: testEnvironment() });
      expect(r.isolation).toBe("pid-namespace");
    },
  );
});

describe("a worker killed mid-run", () => {
  it("injects SIGKILL to a worker without a PID namespace: the next worker's first run kills what it left", async () => {
    const worker = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "test/fixtures/run-command-child.ts",
        `setsid sh -c '${REC} exec sleep ${marker}' & ${REC} sleep ${marker}`,
        dir,
        "process-tree",
      ],
      { stdio: "ignore" },
    );
    const exited = new Promise((r) => worker.on("exit", r));
    try {
      for (let i = 0; i < 600 && pidsWritten().length < 2; i++) await sleep(50);
      expect(pidsWritten()).toHaveLength(2);
    } finally {
      worker.kill("SIGKILL");
      await exited;
    }
    // Left behind: nothing could kill them when the worker died.
    expect(survivors().length).toBeGreaterThan(0);
    // A later worker (this process; its first run in a fresh module) sweeps them first.
    vi.resetModules();
    const fresh = await import("../../src/processors/fix/run-command.js");
    await fresh.runCommand("true", {
      cwd: dir,
      timeoutMs: 10_000,
      env: testEnvironment(),
      isolation: "process-tree",
    });
    expect(survivors()).toEqual([]);
    expect(pidsWritten().filter(ours)).toEqual([]);
  });
});

describe("git commands end by their limit too", () => {
  it("injects a git alias that leaves a setsid child holding the pipes: git() returns at exit, the child is killed", async () => {
    execFileSync("git", ["init", "--quiet", dir]);
    const out = await git(
      [
        "-c",
        `alias.leave=!setsid sh -c '${REC} exec sleep ${marker}' & sleep 0.2; echo left`,
        "leave",
      ],
      { cwd: dir, timeoutMs: 60_000 },
    );
    expect(out.trim()).toBe("left");
    expect(pidsWritten()).toHaveLength(1);
    expect(survivors()).toEqual([]);
  });

  it("injects a git command that hangs: killed at its limit with what it started, an error says so", async () => {
    execFileSync("git", ["init", "--quiet", dir]);
    await expect(
      git(["-c", `alias.hang=!setsid sleep ${marker} & sleep ${marker}`, "hang"], {
        cwd: dir,
        timeoutMs: 500,
      }),
    ).rejects.toThrow(/timed out after/);
    expect(survivors()).toEqual([]);
  });
});

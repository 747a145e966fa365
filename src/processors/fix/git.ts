import { spawn } from "node:child_process";
import { supervise } from "./supervise.js";

const MAX_STDOUT = 64 * 1024 * 1024;

/** Who bg-agent's commits are by. */
export const BOT_NAME = "bg-agent";
export const BOT_EMAIL = "bg-agent@users.noreply.github.com";

export class GitError extends Error {
  constructor(
    readonly args: string[],
    readonly stderr: string,
    readonly code: number | null,
  ) {
    super(
      `git ${args[0] ?? ""} failed${code !== null ? ` (exit ${code})` : ""}: ${stderr.trim().slice(0, 2_000)}`,
    );
    this.name = "GitError";
  }
}

/**
 * Environment that makes git send an Authorization header for HTTPS remotes without the token
 * appearing in a URL, the command line, .git/config or any log: git reads `GIT_CONFIG_*`.
 */
export function authEnv(token: string | undefined): NodeJS.ProcessEnv {
  if (!token) return {};
  const basic = Buffer.from(`x-access-token:${token}`).toString("base64");
  return {
    GIT_CONFIG_COUNT: "1",
    GIT_CONFIG_KEY_0: "http.extraheader",
    GIT_CONFIG_VALUE_0: `AUTHORIZATION: basic ${basic}`,
  };
}

export interface GitOptions {
  cwd: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/** Runs git with a fixed identity, no prompts, no hooks, no signing. Returns stdout. */
export async function git(args: string[], o: GitOptions): Promise<string> {
  const full = [
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "commit.gpgsign=false",
    "-c",
    "tag.gpgsign=false",
    ...args,
  ];
  const timeoutMs = o.timeoutMs ?? 5 * 60_000;
  const child = spawn("git", full, {
    cwd: o.cwd,
    // Its own session and process group, so everything git starts (remote helpers, ssh) is killed
    // with it at the limit; the result never waits for a pipe a leftover keeps open.
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      ...o.env,
      GIT_TERMINAL_PROMPT: "0",
      LC_ALL: "C",
      GIT_AUTHOR_NAME: BOT_NAME,
      GIT_AUTHOR_EMAIL: BOT_EMAIL,
      GIT_COMMITTER_NAME: BOT_NAME,
      GIT_COMMITTER_EMAIL: BOT_EMAIL,
    },
  });
  const out: Buffer[] = [];
  let outBytes = 0;
  let overflow = false;
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    outBytes += chunk.length;
    if (outBytes > MAX_STDOUT) overflow = true;
    else out.push(chunk);
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString("utf8")).slice(-16_000);
  });
  const r = await supervise(child, { timeoutMs, killGraceMs: 1_000 });
  if (r.error) throw new GitError(args, r.error.message, null);
  if (r.timedOut)
    throw new GitError(args, `timed out after ${Math.round(timeoutMs / 1000)}s\n${stderr}`, null);
  if (overflow) throw new GitError(args, `its output exceeded ${MAX_STDOUT} bytes`, r.code);
  if (r.code !== 0)
    throw new GitError(args, stderr || `killed by ${r.signal ?? "a signal"}`, r.code);
  return Buffer.concat(out).toString("utf8");
}

import { execFile } from "node:child_process";

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
export function git(args: string[], o: GitOptions): Promise<string> {
  const full = [
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "commit.gpgsign=false",
    "-c",
    "tag.gpgsign=false",
    ...args,
  ];
  return new Promise((resolve, reject) => {
    execFile(
      "git",
      full,
      {
        cwd: o.cwd,
        timeout: o.timeoutMs ?? 5 * 60_000,
        maxBuffer: 64 * 1024 * 1024,
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
      },
      (err, stdout, stderr) => {
        if (err) {
          const code =
            typeof (err as { code?: unknown }).code === "number"
              ? (err as { code: number }).code
              : null;
          reject(new GitError(args, String(stderr || err.message), code));
        } else resolve(String(stdout));
      },
    );
  });
}

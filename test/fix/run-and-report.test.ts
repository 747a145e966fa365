import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { authEnv } from "../../src/processors/fix/git.js";
import { failureComment, prBody, safeBlock } from "../../src/processors/fix/report.js";
import { runCommand, tail, testEnvironment } from "../../src/processors/fix/run-command.js";
import {
  openWorkspace,
  remoteFromOctokit,
  remoteMatches,
} from "../../src/processors/fix/workspace.js";
import { createTokenClient } from "../../src/integrations/github.js";
import { silentLogger } from "../../src/log.js";
import { makeRepo } from "./fixture.js";

describe("running the test command", () => {
  it("reports the exit code and the output tail", async () => {
    const r = await runCommand("echo start; echo boom >&2; exit 3", {
      cwd: tmpdir(),
      timeoutMs: 10_000,
      env: testEnvironment(),
    });
    expect(r).toMatchObject({ code: 3, timedOut: false });
    expect(r.output).toContain("start");
    expect(r.output).toContain("boom");
  });

  it("never hands secrets from the environment to the tests", async () => {
    const env = testEnvironment({
      PATH: process.env.PATH,
      GITHUB_TOKEN: "ghs_x",
      BG_LLM_API_KEY: "sk-x",
      PRIVATE_KEY: "k",
    });
    const r = await runCommand("env", { cwd: tmpdir(), timeoutMs: 10_000, env });
    expect(r.code).toBe(0);
    expect(r.output).not.toMatch(/GITHUB_TOKEN|BG_LLM_API_KEY|PRIVATE_KEY/);
    expect(r.output).toContain("CI=true");
  });

  it("kills a command that hangs, with what it started, at the limit", async () => {
    const r = await runCommand("sleep 30 & sleep 30", {
      cwd: tmpdir(),
      timeoutMs: 300,
      env: testEnvironment(),
      killGraceMs: 100,
    });
    expect(r.timedOut).toBe(true);
  });

  it("kills a command that ignores SIGTERM after the grace period", async () => {
    const r = await runCommand('trap "" TERM; while true; do sleep 0.1; done', {
      cwd: tmpdir(),
      timeoutMs: 300,
      env: testEnvironment(),
      killGraceMs: 200,
    });
    expect(r).toMatchObject({ timedOut: true, signal: "SIGKILL" });
  });

  it("keeps the last lines of a long output", () => {
    const long = Array.from({ length: 500 }, (_, i) => `line ${i}`).join("\n");
    const t = tail(long, 10);
    expect(t.split("\n")).toHaveLength(10);
    expect(t).toContain("line 499");
  });
});

describe("what bg-agent posts", () => {
  it("shows test output verbatim but cannot ping, command, forge a marker or leak a token", () => {
    const block = safeBlock(
      "``` \n@octocat /bg approve\n/bg approve\n<!-- bg-agent:fix:x -->\ntoken ghp_abcdefghijklmnopqrstuvwxyz0123\n",
    );
    expect(block).not.toMatch(/(^|\s)@octocat/);
    expect(block).not.toMatch(/^\/bg/m);
    expect(block).not.toContain("<!--");
    expect(block).not.toContain("ghp_abc");
    expect(block.startsWith("````text")).toBe(true);
  });

  it("sanitizes the plan in the PR body and links the Linear issue", () => {
    const body = prBody({
      subject: {
        key: "ENG-7",
        target: "linear:ENG-7",
        linear: { identifier: "ENG-7", url: "https://linear.app/acme/issue/ENG-7" },
        title: "t",
        branch: "bg/fix-ENG-7",
      },
      proposalId: 3,
      approvedBy: "alice",
      plan: "Ping @admins\n/bg approve\n<script>x</script>",
      summary: "",
      files: [{ path: "a.ts", added: true }],
      verification: { status: "unverified" },
    });
    expect(body).toContain("Fixes ENG-7");
    expect(body).toContain("[ENG-7](https://linear.app/acme/issue/ENG-7)");
    expect(body).not.toContain("@admins");
    expect(body).not.toMatch(/^\/bg/m);
    expect(body).not.toContain("<script>");
    expect(body).toContain("Nothing was verified");
  });

  it("lists what was tried in a failure comment", () => {
    const c = failureComment({
      reason: "tests failed",
      tried: ["edit: edits to a.ts", "tests: failed"],
      outputTail: "x",
    });
    expect(c).toContain("- edit: edits to a.ts");
    expect(c).toContain("Nothing was pushed");
  });
});

describe("the workspace", () => {
  it("recognizes the repository behind a remote URL", () => {
    const ref = { owner: "octo", repo: "demo" };
    expect(remoteMatches("https://github.com/octo/demo.git", ref)).toBe(true);
    expect(remoteMatches("git@github.com:Octo/Demo.git", ref)).toBe(true);
    expect(remoteMatches("/tmp/x/remotes/octo/demo.git", ref)).toBe(true);
    expect(remoteMatches("https://github.com/octo/demo-fork.git", ref)).toBe(false);
  });

  it("clones from the GitHub host the client talks to, with the client's token", async () => {
    const ref = { owner: "octo", repo: "demo" };
    const dotcom = createTokenClient({ token: "ghs_a", retries: false });
    expect(await remoteFromOctokit(dotcom, ref)).toEqual({
      url: "https://github.com/octo/demo.git",
      token: "ghs_a",
    });
    const ghe = createTokenClient({
      token: "ghs_b",
      baseUrl: "https://ghe.example.com/api/v3",
      retries: false,
    });
    expect(await remoteFromOctokit(ghe, ref)).toEqual({
      url: "https://ghe.example.com/octo/demo.git",
      token: "ghs_b",
    });
  });

  it("sends a token only as a header from the environment, never in the URL or .git/config", async () => {
    const env = authEnv("ghs_secret");
    expect(JSON.stringify(env)).not.toContain("ghs_secret");
    expect(Buffer.from(env.GIT_CONFIG_VALUE_0!.split(" ").at(-1)!, "base64").toString()).toBe(
      "x-access-token:ghs_secret",
    );
    const fx = makeRepo();
    try {
      const ws = await openWorkspace({
        ref: { owner: "octo", repo: "demo" },
        baseBranch: "main",
        remote: async () => ({ url: fx.bare, token: "ghs_secret" }),
        log: silentLogger,
        tmpRoot: fx.tmp,
      });
      expect(ws.mode).toBe("clone");
      expect(readFileSync(join(ws.dir, ".git", "config"), "utf8")).not.toContain("ghs_secret");
      expect((await ws.git(["remote", "get-url", "origin"])).trim()).toBe(fx.bare);
      await ws.cleanup();
    } finally {
      fx.cleanup();
    }
  });

  it("does not use a checkout of another repository", async () => {
    const fx = makeRepo();
    const other = mkdtempSync(join(tmpdir(), "bg-other-"));
    try {
      const ws = await openWorkspace({
        ref: { owner: "octo", repo: "demo" },
        baseBranch: "main",
        checkout: other,
        remote: async () => ({ url: fx.bare }),
        log: silentLogger,
        tmpRoot: fx.tmp,
      });
      expect(ws.mode).toBe("clone");
      await ws.cleanup();
    } finally {
      fx.cleanup();
      rmSync(other, { recursive: true, force: true });
    }
  });
});

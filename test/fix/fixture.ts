import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import nock from "nock";
import type { Store } from "../../src/store/index.js";
import type { Task } from "../../src/core/domain.js";

export const REPO = "octo/demo";
export const KEY = "octo/demo#12";
export const API = "https://api.github.com";

const gitEnv = {
  ...process.env,
  GIT_AUTHOR_NAME: "Dev",
  GIT_AUTHOR_EMAIL: "dev@example.com",
  GIT_COMMITTER_NAME: "Dev",
  GIT_COMMITTER_EMAIL: "dev@example.com",
  GIT_TERMINAL_PROMPT: "0",
};

export const git = (cwd: string, ...args: string[]): string =>
  execFileSync("git", args, {
    cwd,
    env: gitEnv,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });

export const FILES: Record<string, string> = {
  "README.md": "# demo\n\nA tiny package that adds numbers.\n",
  "package.json":
    JSON.stringify({ name: "demo", version: "1.0.0", scripts: { test: "node test.js" } }, null, 2) +
    "\n",
  "src/math.js": "function add(a, b) {\n  return a - b;\n}\n\nmodule.exports = { add };\n",
  "src/other.js": "module.exports = 1;\n",
  // Passes on the unchanged tree (it does not catch the bug) and after a good fix.
  "test.js":
    'const assert = require("assert");\nconst { add } = require("./src/math.js");\nassert.strictEqual(add(2, 0), 2);\nconsole.log("tests ok");\n',
  // Fails on the unchanged tree (it catches the bug) until add() adds.
  "sum.test.js":
    'const assert = require("assert");\nconst { add } = require("./src/math.js");\nassert.strictEqual(add(2, 2), 4);\nconsole.log("sum ok");\n',
};

export interface RepoFixture {
  root: string;
  /** The bare repository playing GitHub's remote: <root>/remotes/octo/demo.git */
  bare: string;
  /** A checkout of it, playing the Action runner's GITHUB_WORKSPACE. */
  checkout: string;
  /** Parent of bg-agent's temp dirs, to check they are removed. */
  tmp: string;
  branchFile(branch: string, path: string): string | null;
  branches(): string[];
  cleanup(): void;
}

/** A small real repository: a bare `origin`, and a runner-style checkout of it. */
export function makeRepo(): RepoFixture {
  const root = mkdtempSync(join(tmpdir(), "bg-fix-test-"));
  const bare = join(root, "remotes", "octo", "demo.git");
  mkdirSync(bare, { recursive: true });
  git(bare, "init", "--quiet", "--bare", "-b", "main");
  const seed = join(root, "seed");
  mkdirSync(seed);
  git(seed, "init", "--quiet", "-b", "main");
  for (const [path, content] of Object.entries(FILES)) {
    mkdirSync(dirname(join(seed, path)), { recursive: true });
    writeFileSync(join(seed, path), content);
  }
  git(seed, "add", "-A");
  git(seed, "commit", "--quiet", "-m", "initial");
  git(seed, "remote", "add", "origin", bare);
  git(seed, "push", "--quiet", "origin", "main");
  const checkout = join(root, "checkout");
  git(root, "clone", "--quiet", bare, checkout);
  const tmp = join(root, "tmp");
  mkdirSync(tmp);
  return {
    root,
    bare,
    checkout,
    tmp,
    branchFile(branch, path) {
      try {
        return git(bare, "show", `${branch}:${path}`);
      } catch {
        return null;
      }
    },
    branches() {
      return git(bare, "for-each-ref", "--format=%(refname:short)", "refs/heads")
        .split("\n")
        .filter(Boolean)
        .sort();
    },
    cleanup() {
      rmSync(root, { recursive: true, force: true });
    },
  };
}

export const leftovers = (fx: RepoFixture): string[] => readdirSync(fx.tmp);

/** An approved fix proposal and its queued, claimed task. */
export async function approvedFix(
  store: Store,
  o: {
    status?: "approved" | "proposed" | "rejected";
    affectedFiles?: string[];
    plan?: string;
    /** The plan's own proving test. */
    provingTest?: { file: string; name?: string };
  } = {},
): Promise<{ task: Task; proposalId: number }> {
  const p = await store.proposals.propose({
    repo: REPO,
    kind: "fix",
    target: "issue:12",
    contentHash: "h1",
    payload: {
      key: KEY,
      plan: o.plan ?? "Make add() return the sum of its arguments instead of their difference.",
      affectedFiles: o.affectedFiles ?? ["src/math.js"],
      complexity: "low",
      ...(o.provingTest ? { provingTest: o.provingTest } : {}),
    },
  });
  const status = o.status ?? "approved";
  if (status !== "proposed") await store.proposals.decide(p.id, status, "alice");
  await store.tasks.enqueue({
    repo: REPO,
    type: "fix",
    source: "issue:12",
    payload: { key: KEY, proposalId: p.id },
  });
  const [task] = await store.tasks.claim({
    owner: "test-worker",
    leaseMs: 60_000,
    limit: 1,
    types: ["fix"],
  });
  if (!task) throw new Error("no task claimed");
  return { task, proposalId: p.id };
}

export const edits = (e: unknown[], summary = "add() now adds.", test?: unknown): string =>
  JSON.stringify({ summary, edits: e, ...(test !== undefined ? { test } : {}) });
/** The fixture's test that shows the bug: fails on the unchanged tree, passes once add() adds. */
export const SUM_TEST = { file: "sum.test.js", name: "" };
/** The good edit, naming the proving test. */
export const proven = (e: unknown[] = [GOOD_EDIT]): string => edits(e, "add() now adds.", SUM_TEST);
export const GOOD_EDIT = { path: "src/math.js", search: "return a - b;", replace: "return a + b;" };

/** GitHub reads every fix makes: the repository's default branch and the issue. */
export function nockReads(api = nock(API)): nock.Scope {
  return api
    .get(`/repos/${REPO}`)
    .reply(200, { default_branch: "main", full_name: REPO })
    .get(`/repos/${REPO}/issues/12`)
    .reply(200, { number: 12, state: "open", title: "add() subtracts" });
}

/** bg-agent's `fix` comment on issue 12 (none yet): captures the body. */
export function nockIssueComment(api: nock.Scope, sink: { body?: string }): nock.Scope {
  return api
    .get(`/repos/${REPO}/issues/12/comments`)
    .query(true)
    .reply(200, [])
    .post(`/repos/${REPO}/issues/12/comments`, (b: { body: string }) => {
      sink.body = b.body;
      return true;
    })
    .reply(201, { id: 501, html_url: `https://github.com/${REPO}/issues/12#issuecomment-501` });
}

/** A new PR #34 for bg/fix-12: captures the create body and the labels. */
export function nockNewPr(
  api: nock.Scope,
  sink: { pr?: Record<string, unknown>; labels?: string[] },
): nock.Scope {
  return api
    .get(`/repos/${REPO}/pulls`)
    .query({ head: "octo:bg/fix-12", state: "open", per_page: "10" })
    .reply(200, [])
    .post(`/repos/${REPO}/pulls`, (b: Record<string, unknown>) => {
      sink.pr = b;
      return true;
    })
    .reply(201, { number: 34, html_url: `https://github.com/${REPO}/pull/34` })
    .post(`/repos/${REPO}/issues/34/labels`, (b: { labels: string[] }) => {
      sink.labels = b.labels;
      return true;
    })
    .reply(200, []);
}

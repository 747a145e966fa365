import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import nock from "nock";
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { openStore } from "../../src/store/index.js";
import { migrations } from "../../src/store/migrations.js";
import { fakeLlm } from "../helpers/fake-llm.js";
import { fakeProcessors } from "../helpers/fake-processors.js";
import { API, nockComments, nockRepoAndNoConfig } from "../helpers/github-nock.js";

async function cli(
  argv: string[],
  env: Record<string, string> = {},
  o: Parameters<typeof main>[3] = {},
) {
  let stdout = "";
  let stderr = "";
  const code = await main(
    argv,
    { GITHUB_TOKEN: "ghp_test", GITHUB_REPOSITORY: "octo/demo", ...env },
    { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) },
    o,
  );
  return { code, stdout, stderr };
}

describe("bg-agent run --once", () => {
  it("--dry-run reads GitHub, decides, and writes nothing", async () => {
    const writes: string[] = [];
    const scope = nockRepoAndNoConfig(nock(API))
      .get("/repos/octo/demo/issues")
      .query((q) => q.labels === "bg:dashboard")
      .reply(200, []);
    nockComments(scope)
      .get("/repos/octo/demo/pulls")
      .query(true)
      .reply(200, [{ number: 8 }])
      .get("/repos/octo/demo/pulls/8")
      .reply(200, { number: 8, labels: [{ name: "ready" }], head: { sha: "f00" } })
      .get("/repos/octo/demo/issues")
      .query((q) => q.labels === "tech-debt")
      .reply(200, [{ number: 2, title: "old code", body: "", labels: [] }]);
    scope.on("request", (req: { method: string; path: string }) => {
      if (req.method !== "GET") writes.push(`${req.method} ${req.path}`);
    });
    const unmatched = (req: { method: string; path: string }) =>
      writes.push(`unmatched ${req.method} ${req.path}`);
    nock.emitter.on("no match", unmatched);
    const llm = fakeLlm(['{"ok":true}']);
    const r = await cli(
      ["run", "--once", "--dry-run"],
      { GITHUB_WORKSPACE: mkdtempSync(join(tmpdir(), "ws-")) },
      { processors: fakeProcessors(), createLlm: () => llm, githubRetries: false },
    );
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("bg-agent all on octo/demo (dry run): analysed 1, merged 0");
    expect(r.stdout).toContain("done    automerge pr:8");
    expect(r.stdout).toContain("note: Dry run: nothing was written");
    nock.emitter.removeListener("no match", unmatched);
    expect(writes).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("--dry-run with the real processors answers a /bg command and looks at a PR, writing nothing", async () => {
    const writes: string[] = [];
    const scope = nockRepoAndNoConfig(nock(API))
      .get("/repos/octo/demo/issues")
      .query((q) => q.labels === "bg:dashboard")
      .reply(200, []);
    nockComments(scope, [
      {
        id: 55,
        body: "/bg help",
        html_url: "https://github.com/octo/demo/issues/2#issuecomment-55",
        issue_url: "https://api.github.com/repos/octo/demo/issues/2",
        created_at: new Date().toISOString(),
        user: { login: "alice", type: "User" },
      },
    ])
      .get("/repos/octo/demo/pulls")
      .query(true)
      .reply(200, [{ number: 8, head: { sha: "f00" } }])
      .get("/repos/octo/demo/pulls/8")
      .reply(200, {
        number: 8,
        html_url: "https://github.com/octo/demo/pull/8",
        title: "wip",
        body: null,
        state: "open",
        draft: true,
        user: { login: "alice", type: "User" },
        labels: [],
        head: { sha: "f00", ref: "wip", repo: { full_name: "octo/demo" } },
        base: { ref: "main", repo: { full_name: "octo/demo" } },
      })
      .get("/repos/octo/demo/issues")
      .query((q) => q.labels === "tech-debt")
      .reply(200, []);
    scope.on("request", (req: { method: string; path: string }) => {
      if (req.method !== "GET") writes.push(`${req.method} ${req.path}`);
    });
    const unmatched = (req: { method: string; path: string }) =>
      writes.push(`unmatched ${req.method} ${req.path}`);
    nock.emitter.on("no match", unmatched);
    const llm = fakeLlm([]);
    const r = await cli(
      ["run", "--once", "--dry-run", "--json"],
      { GITHUB_WORKSPACE: mkdtempSync(join(tmpdir(), "ws-")) },
      { createLlm: () => llm, githubRetries: false },
    );
    nock.emitter.removeListener("no match", unmatched);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("dry run: would reply to the command comment");
    const summary = JSON.parse(r.stdout) as {
      items: { type: string; item: string; outcome: string }[];
      errors: string[];
    };
    expect(summary.errors).toEqual([]);
    expect(summary.items.map((i) => [i.type, i.item, i.outcome])).toEqual([
      ["command", "comment:55", "done"],
      ["automerge", "pr:8", "done"],
    ]);
    expect(llm.calls).toHaveLength(0);
    expect(writes).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("takes --repo and --mode, prints JSON, and fails (1) on a refused token", async () => {
    nock(API).get("/repos/octo/other").reply(401, { message: "Bad credentials" });
    const r = await cli(
      ["run", "--once", "--repo", "octo/other", "--mode", "automerge", "--json"],
      {},
      { githubRetries: false },
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/GitHub refused the token \(401 Bad credentials\)/);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("answers usage errors with exit code 2 and says what to set", async () => {
    const cases: [string[], Record<string, string>, RegExp][] = [
      [["run"], {}, /run needs --once/],
      [
        ["run", "--once", "--mode", "everything"],
        {},
        /--mode must be one of analyze, automerge, tasks, all/,
      ],
      [["run", "--once", "--repo", "nope"], {}, /--repo must be owner\/name/],
      [["run", "--once", "--bogus"], {}, /Unknown option '--bogus'/],
      [["run", "--once"], { GITHUB_TOKEN: "" }, /GITHUB_TOKEN is not set/],
      [
        ["run", "--once"],
        { GITHUB_REPOSITORY: "" },
        /no repository: pass --repo owner\/name or set GITHUB_REPOSITORY/,
      ],
      [["run", "--once"], { GITHUB_API_URL: "not a url" }, /GITHUB_API_URL must be a URL/],
      [["frobnicate"], {}, /unknown command "frobnicate"/],
      [[], {}, /Usage:/],
    ];
    for (const [argv, env, message] of cases) {
      const r = await cli(argv, env);
      expect(r.code, argv.join(" ")).toBe(2);
      expect(`${r.stderr}${r.stdout}`).toMatch(message);
    }
    const help = await cli(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain(
      "bg-agent run --once [--repo owner/name] [--mode analyze|automerge|tasks|all] [--dry-run]",
    );
  });
});

describe("bg-agent migrate and status", () => {
  it("migrates BG_DB_PATH and prints queue counts from it", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "db-")), "sub", "bg.db");
    const missing = await cli(["status"], { BG_DB_PATH: path });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(
      /no database at .*bg\.db: set BG_DB_PATH \(or DATABASE_URL\), or run bg-agent migrate/,
    );

    const m = await cli(["migrate"], { BG_DB_PATH: path });
    expect(m.code).toBe(0);
    expect(m.stdout).toContain(`schema version ${migrations.length}`);

    const store = await openStore({ path });
    await store.tasks.enqueue({ repo: "octo/demo", type: "automerge", source: "pr:1" });
    await store.tasks.enqueue({ repo: "octo/demo", type: "automerge", source: "pr:2" });
    await store.close();
    const s = await cli(["status"], { BG_DB_PATH: path });
    expect(s.code).toBe(0);
    expect(s.stdout).toMatch(
      /REPOSITORY\s+TYPE\s+STATUS\s+COUNT\nocto\/demo\s+automerge\s+pending\s+2/,
    );
    const j = await cli(["status", "--json", "--repo", "octo/demo"], { BG_DB_PATH: path });
    expect(JSON.parse(j.stdout)).toMatchObject({
      tasks: [{ repo: "octo/demo", type: "automerge", status: "pending", count: 2 }],
    });
  });

  it("runs as a command: the bin entry prints its help", async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["--import", "tsx", "src/cli.ts", "--help"],
      { cwd: join(import.meta.dirname, "../..") },
    );
    expect(stdout).toContain("Exit codes: 0 ok, 1 the run failed, 2 usage error.");
  });
});

import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { migrations } from "../../src/store/migrations.js";
import { openSqlite } from "../../src/store/db.js";

/** Runs the CLI with no token and no network access (vitest's setup disables it). */
async function cli(argv: string[], env: Record<string, string> = {}) {
  let stdout = "";
  let stderr = "";
  const code = await main(argv, env, {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
  });
  return { code, stdout, stderr, out: stdout + stderr };
}

const dir = mkdtempSync(join(tmpdir(), "validate-"));
const file = (name: string, text: string | Buffer): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe("bg-agent validate (offline, no token)", () => {
  it("a valid file: exit 0 and says valid", async () => {
    const p = file(
      "ok.yml",
      "automerge:\n  enabled: true\n  method: squash\ntech_debt:\n  github:\n    labels: [tech-debt]\n",
    );
    const r = await cli(["validate", p]);
    expect(r.out).toContain(`${p}: valid`);
    expect(r.code).toBe(0);
  });

  it("an invalid file: exit 1, every problem with its path and line", async () => {
    const p = file(
      "bad.yml",
      ["automerge:", "  enabled: yes-please", "  method: rebase-all", ""].join("\n"),
    );
    const r = await cli(["validate", p]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(new RegExp(`${p}:2:\\d+: automerge\\.enabled: `));
    expect(r.out).toMatch(new RegExp(`${p}:3:\\d+: automerge\\.method: `));
    expect(r.out).toMatch(/invalid \(2 problems\)/);
  });

  it("a task below the interval floor is a problem on its line (the app would ignore the task)", async () => {
    const p = file("task.yml", "tasks:\n  - name: weekly\n    every: 1s\n    prompt: hi\n");
    const r = await cli(["validate", p]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(new RegExp(`${p}:3:\\d+: tasks\\[0\\]\\.every: .*minimum interval`));
  });

  it("a typo key: exit 1 with a suggestion on the key's line", async () => {
    const p = file("typo.yml", "# settings\nautomerg:\n  enabled: true\n");
    const r = await cli(["validate", p]);
    expect(r.code).toBe(1);
    expect(r.out).toContain(
      `${p}:2:1: automerg: unknown key "automerg" (did you mean "automerge"?)`,
    );
  });

  it("defaults to .github/bg-agent.yml and says when it is missing", async () => {
    const r = await cli(["validate"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("no file .github/bg-agent.yml");
  });

  it("_extends is reported as not checked offline, the rest is validated", async () => {
    const p = file("ext.yml", "_extends: acme/base\nautomerge:\n  enabled: true\n");
    const r = await cli(["validate", p]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/_extends: "acme\/base" is not checked offline/);
  });

  describe("bad input is said plainly, never a hang or a crash", () => {
    it("not YAML: exit 1 with the line", async () => {
      const p = file("notyaml.yml", "automerge:\n  enabled: [true\nanalysis: {\n");
      const r = await cli(["validate", p]);
      expect(r.code).toBe(1);
      expect(r.out).toMatch(new RegExp(`${p}:\\d+:\\d+: \\(file\\): is not valid YAML`));
    });

    it("empty: valid, defaults apply", async () => {
      const p = file("empty.yml", "\n\n");
      const r = await cli(["validate", p]);
      expect(r.code).toBe(0);
      expect(r.out).toContain("the file is empty: every default applies");
    });

    it("a list instead of a mapping: exit 1", async () => {
      const r = await cli(["validate", file("list.yml", "- a\n- b\n")]);
      expect(r.code).toBe(1);
      expect(r.out).toContain("the file must be a YAML mapping");
    });

    it("10 MB: refused by size before parsing", async () => {
      const p = file("big.yml", Buffer.alloc(10 * 1024 * 1024, "a: 1\n"));
      const r = await cli(["validate", p]);
      expect(r.code).toBe(1);
      expect(r.out).toMatch(/is 10,485,760 bytes; bg-agent reads at most 65,536/);
    });

    it("a YAML bomb (nested aliases): exit 1, named as such", async () => {
      let text = "a: &a [x, x, x, x, x, x, x, x, x]\n";
      let prev = "a";
      for (let i = 0; i < 9; i++) {
        text += `b${i}: &b${i} [${Array(9).fill(`*${prev}`).join(", ")}]\n`;
        prev = `b${i}`;
      }
      const r = await cli(["validate", file("bomb.yml", text)]);
      expect(r.code).toBe(1);
      expect(r.out).toMatch(/YAML bomb/);
    });

    it("60,000 nested brackets: exit 1, not a stack overflow", async () => {
      const r = await cli(["validate", file("deep.yml", "[".repeat(60_000))]);
      expect(r.code).toBe(1);
      expect(r.out).toMatch(/is not valid YAML/);
    });
  });
});

describe("bg-agent migrate says what it did", () => {
  it("created, then current; an old database is migrated", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "mig-")), "sub", "bg.db");
    const first = await cli(["migrate"], { BG_DB_PATH: path });
    expect(first.stdout).toContain(`created the database at schema version ${migrations.length}`);
    const again = await cli(["migrate"], { BG_DB_PATH: path });
    expect(again.stdout).toContain("already current");

    const old = join(mkdtempSync(join(tmpdir(), "mig-")), "old.db");
    const db = await openSqlite({ path: old });
    for (const m of migrations.slice(0, 1)) db.exec(m.sql);
    db.userVersion(1);
    db.close();
    const m = await cli(["migrate"], { BG_DB_PATH: old });
    expect(m.stdout).toContain(`migrated from schema version 1 to ${migrations.length}`);
    expect(m.code).toBe(0);
  });
});

describe("the bin runs from a fresh clone (no dist/)", () => {
  it("bin/bg-agent.js validate runs the sources through tsx when dist/cli.js is absent", async () => {
    const p = file("bin.yml", "automerg: {}\n");
    const r: { code?: number; stdout: string } = await promisify(execFile)(
      process.execPath,
      ["bin/bg-agent.js", "validate", p],
      { env: { ...process.env, BG_AGENT_FROM_SOURCE: "1" } },
    ).catch((e: { code: number; stdout: string }) => e);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('did you mean "automerge"?');
  }, 30_000);
});

import { describe, expect, it } from "vitest";
import { assembleContext, workspaceSource } from "../../src/context/project-context.js";
import { contextPrefix } from "../../src/context/prefix.js";
import type { MapFile } from "../../src/context/repo-map/build.js";
import { buildRepoMap } from "../../src/context/repo-map/build.js";
import { resetGrammars } from "../../src/context/repo-map/grammars.js";
import { issueMentions, safeRepoPath } from "../../src/context/repo-map/issue-files.js";
import { countTokens } from "../../src/context/repo-map/tokens.js";
import { memoryLogger, silentLogger } from "../../src/log.js";
import { twelveModules, writeRepo } from "./repo-map-fixture.js";

const mem = (files: Record<string, string | Uint8Array>): MapFile[] =>
  Object.entries(files).map(([path, c]) => {
    const bytes = typeof c === "string" ? Buffer.from(c) : c;
    return { path, size: bytes.length, load: async () => bytes };
  });

const opts = { include: [], maxTokens: 20_000, mapTokens: 8_000 };

describe("repository map", () => {
  it("a twelve-module repository with a one-paragraph README gives a prefix of at least 4,096 tokens", async () => {
    const dir = writeRepo(twelveModules());
    const c = await assembleContext(workspaceSource("octo/demo", dir), opts);
    expect(countTokens(contextPrefix(c.text))).toBeGreaterThanOrEqual(4_096);
    expect(c.text).toContain("## Repository map (");
    expect(c.text).toMatch(
      /src\/foo\.ts\n\s+\d+ export function parseBar\(input: string, strict = false\)/,
    );
    expect(c.map?.files).toBe(14);
    // Without the map (map_tokens 0) the same repository says far less: the case of issue #17.
    const bare = await assembleContext(workspaceSource("octo/demo", dir), {
      ...opts,
      mapTokens: 0,
    });
    expect(countTokens(contextPrefix(bare.text))).toBeLessThan(1_024);
  });

  it("is byte-stable: the same files in any order give the same bytes", async () => {
    const files = mem(twelveModules());
    const a = await buildRepoMap(files, { maxTokens: 300, log: silentLogger });
    const b = await buildRepoMap([...files].reverse(), { maxTokens: 300, log: silentLogger });
    expect(a.text).toBe(b.text);
    expect(a.tokens).toBeLessThanOrEqual(300);
    expect(a.shown).toBeLessThan(a.definitions);
    // Ranked by references: code other files use comes before files nothing refers to.
    expect(a.ranked[0]).toMatch(/^src\//);
  });

  it("tags Python, Go, Rust, Java and JavaScript definitions with signatures", async () => {
    const m = await buildRepoMap(
      mem({
        "a.py":
          "class Parser:\n    def parse(self, text: str) -> int:\n        def local(): pass\n        return 1\n\nLIMIT = 3\n",
        "b.go":
          "package b\n\ntype Store struct {\n\tn int\n}\n\nfunc (s *Store) Get(key string) (int, error) {\n\treturn s.n, nil\n}\n",
        "c.rs":
          "pub struct Queue { n: u32 }\n\nimpl Queue {\n    pub fn push(&mut self, v: u32) -> bool { true }\n}\n\npub trait Sink { fn write(&self); }\n",
        "D.java": "public class D {\n  public int size(String s) { return 1; }\n}\n",
        "e.js":
          "export const handler = async (event) => {\n  return 1;\n};\nclass E { run(a) { return a; } }\n",
        "docs/guide.md": "# Guide\n\n## Install\n\ntext\n",
        "config.yml": "name: x\non:\n  push: {}\n",
      }),
      { maxTokens: 4_000, log: silentLogger },
    );
    for (const line of [
      "class Parser",
      "  def parse(self, text: str) -> int",
      "LIMIT = 3",
      "type Store struct",
      "func (s *Store) Get(key string) (int, error)",
      "pub struct Queue",
      "impl Queue",
      "  pub fn push(&mut self, v: u32) -> bool",
      "pub trait Sink",
      "public class D",
      "  public int size(String s)",
      "export const handler = async (event) =>",
      "  run(a)",
      "# Guide",
      "name: x",
    ])
      expect(m.text).toContain(line);
    expect(m.text).not.toContain("local");
    expect(m.symbols.get("parse")).toEqual(["a.py"]);
  });

  it("skips binary, minified, too large and badly encoded files, and counts them", async () => {
    const m = await buildRepoMap(
      mem({
        "ok.ts": "export const ok = 1;\n",
        "img.png": Buffer.from([1, 2, 3]),
        "blob.dat.ts": Buffer.from([0x65, 0, 0x66]),
        "dist.min.js": `var a=${"1+".repeat(3_000)}1;\n`,
        "huge.ts": `// ${"x".repeat(80)}\n`.repeat(70_000),
        "latin1.ts": Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a]),
      }),
      { maxTokens: 2_000, log: silentLogger },
    );
    expect(m.skipped).toEqual({
      binary: 2,
      minified: 1,
      "too large": 1,
      "bad encoding": 1,
      unreadable: 0,
    });
    expect(m.text).toContain("export const ok = 1");
  });

  it("a file whose bytes did not change is not parsed again: its tags come from the content cache", async () => {
    resetGrammars();
    const files = twelveModules();
    const first = await buildRepoMap(mem(files), { maxTokens: 2_000, log: silentLogger });
    // No parse time at all: only cached tags can give the same map.
    const again = await buildRepoMap(mem(files), {
      maxTokens: 2_000,
      log: silentLogger,
      totalParseMs: 0,
    });
    expect(again.text).toBe(first.text);
    expect(again.parsed).toBe(first.parsed);
    expect(again.timedOut).toBe(0);
    // A changed file is parsed again (with time to do it); the others still come from the cache.
    const changed = {
      ...files,
      "src/foo.ts": `${files["src/foo.ts"]!}\nexport function addedLater(n: number): number {\n  return n;\n}\n`,
    };
    const third = await buildRepoMap(mem(changed), { maxTokens: 2_000, log: silentLogger });
    expect(third.text).toContain("export function addedLater(n: number): number");
    const starved = await buildRepoMap(
      mem({ ...changed, "src/new.ts": "export const fresh = () => 1;\n" }),
      { maxTokens: 2_000, log: silentLogger, totalParseMs: 0 },
    );
    expect(starved.timedOut).toBe(1);
    resetGrammars();
  });

  it("a grammar that fails to load falls back to the outline and logs once", async () => {
    resetGrammars();
    const log = memoryLogger();
    const m = await buildRepoMap(
      mem({ "a.ts": "export function a() {}\n", "b.ts": "export function b() {}\n" }),
      { maxTokens: 2_000, log, grammars: { wasmDir: "/nonexistent" } },
    );
    resetGrammars();
    expect(m.grammarFailures).toEqual(["typescript"]);
    expect(m.text).toContain("export function a() {}");
    expect(log.lines.filter((l) => l.msg.includes("grammar did not load"))).toHaveLength(1);
  });
});

describe("the files an issue names", () => {
  const paths = ["src/foo.ts", "src/util/bar.ts", "README.md"];
  const symbols = new Map([["parseBar", ["src/foo.ts"]]]);

  it("resolves paths, path:line, unique file names and symbols", () => {
    const r = issueMentions(
      "In `src/foo.ts:12` and bar.ts, parseBar breaks; see README.md.",
      paths,
      { symbols },
    );
    expect(r.files).toEqual(["src/foo.ts", "src/util/bar.ts", "README.md"]);
  });

  it("ignores paths outside the repository, absolute, with .. or in .git", () => {
    const r = issueMentions(
      "Read /etc/passwd.txt, ../../secrets/key.pem, src/../../x.ts, .git/hooks/pre-commit.sample and ~/x.ts",
      [...paths, ".git/hooks/pre-commit.sample"],
      { symbols },
    );
    expect(r.files).toEqual([]);
    expect(r.ignored).toBeGreaterThanOrEqual(4);
    for (const p of [
      "/etc/passwd",
      "../a.ts",
      "a/../b.ts",
      ".git/config",
      "a/.GIT/x",
      "C:/x.ts",
      "a\\b.ts",
    ])
      expect(safeRepoPath(p)).toBe(false);
    expect(safeRepoPath("src/foo.ts")).toBe(true);
  });
});

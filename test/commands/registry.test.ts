import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import nock from "nock";
import { afterEach, describe, expect, it } from "vitest";
import { usageMarkdown } from "../../src/commands/command.js";
import { formatCommand, parseLine } from "../../src/commands/parse.js";
import { COMMANDS, commandSchema } from "../../src/commands/registry.js";
import {
  API,
  REPO,
  commentEvent,
  installationCreated,
  nockConfig,
  nockNewComment,
  nockToken,
  startE2E,
} from "../e2e/harness.js";
import type { E2E } from "../e2e/harness.js";

const ROOT = new URL("../../", import.meta.url).pathname;
const read = (path: string): string => readFileSync(join(ROOT, path), "utf8");
const NAMES = COMMANDS.map((c) => c.name);
const sorted = (xs: Iterable<string>): string[] => [...new Set(xs)].sort();

/** The lines of a Markdown file from a heading to the next heading of the same or a higher level. */
function section(md: string, heading: string): string[] {
  const lines = md.split("\n");
  const start = lines.indexOf(heading);
  expect(start, `${heading} is in the file`).toBeGreaterThanOrEqual(0);
  const level = /^#+/.exec(heading)![0].length;
  const end = lines.findIndex(
    (l, i) => i > start && /^#+ /.test(l) && /^#+/.exec(l)![0].length <= level,
  );
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

/** A Markdown table's rows (header and separator left out) as their cells. */
const tableRows = (lines: string[]): string[][] =>
  lines
    .filter((l) => l.startsWith("|"))
    .slice(2)
    .map((l) =>
      l
        .split("|")
        .slice(1, -1)
        .map((c) => c.trim()),
    );

/** Every `/bg <name>` a piece of Markdown mentions. */
const bgNames = (s: string): string[] => [...s.matchAll(/`\/bg (\w+)/g)].map((m) => m[1]!);

describe("the /bg command registry", () => {
  it("every command has a spec, a payload schema, a parser, a formatter, audit arguments and a handler", () => {
    const words = COMMANDS.flatMap((c) => [c.name, ...(c.aliases ?? [])]);
    expect(new Set(words).size, "names and aliases are unique").toBe(words.length);
    for (const c of COMMANDS) {
      expect(c.name).toMatch(/^[a-z]+$/);
      expect(c.usage.startsWith(`/bg ${c.name}`), c.name).toBe(true);
      expect(c.summary.length, c.name).toBeGreaterThan(5);
      expect(["anyone", "min_permission"]).toContain(c.permission);
      // Who may run a state-changing command is never "anyone", and the rest need no lookup.
      expect(c.permission === "min_permission", c.name).toBe(c.mutates);
      expect(typeof c.parse).toBe("function");
      expect(typeof c.format).toBe("function");
      expect(typeof c.auditArgs).toBe("function");
      expect(typeof c.handle).toBe("function");
    }
  });

  it("every file under src/commands/builtin/ is one command, and the registry lists it", async () => {
    const dir = join(ROOT, "src/commands/builtin");
    const files = readdirSync(dir).filter((f) => f.endsWith(".ts"));
    expect(sorted(files)).toEqual(sorted(NAMES.map((n) => `${n}.ts`)));
    for (const f of files) {
      const mod = (await import(join(dir, f))) as Record<string, unknown>;
      const exported = Object.values(mod).filter(
        (v) => typeof v === "object" && v !== null && "handle" in v,
      );
      expect(exported, f).toHaveLength(1);
      expect(COMMANDS as readonly unknown[], f).toContain(exported[0]);
    }
  });

  it("the parser hands each command's arguments to that command: `/bg <name>` parses to it or names it with its usage", () => {
    for (const c of COMMANDS) {
      const r = parseLine(`/bg ${c.name}`);
      if (r.ok) {
        expect(r.command.name).toBe(c.name);
        // Written back and parsed again, it is the same command; the payload schema accepts it.
        expect(formatCommand(r.command)).toBe(`/bg ${c.name}`);
        expect(commandSchema.parse(r.command)).toEqual(r.command);
      } else {
        expect(r).toMatchObject({ name: c.name, error: expect.stringContaining(c.usage) });
      }
    }
    expect(parseLine("/bg frobnicate")).toMatchObject({
      ok: false,
      error: "`frobnicate` is not a bg-agent command",
    });
  });

  it("the help text lists every command once, in the registry's order, and marks exactly the ones that need a permission", () => {
    const text = usageMarkdown(COMMANDS, undefined, "maintain");
    const rows = text.split("\n");
    expect(rows.map((r) => /^- `\/bg (\w+)/.exec(r)?.[1])).toEqual(NAMES);
    for (const [i, c] of COMMANDS.entries()) {
      expect(rows[i]).toContain(c.usage);
      expect(rows[i]!.endsWith("_(needs maintain permission)_"), c.name).toBe(
        c.permission === "min_permission",
      );
    }
  });

  it("no switch outside src/commands/builtin/ names a command", () => {
    const dir = join(ROOT, "src/commands");
    const files = readdirSync(dir, { recursive: true, encoding: "utf8" })
      .filter((f) => f.endsWith(".ts"))
      .map((f) => join(dir, f))
      .filter((f) => !relative(dir, f).startsWith("builtin"));
    const naming = new RegExp(`(case|name ===) "(${NAMES.join("|")})"`);
    for (const f of files) expect(naming.exec(readFileSync(f, "utf8")), f).toBeNull();
  });

  it("README.md's command table names exactly the registry's commands, with who may run each", () => {
    const rows = tableRows(section(read("README.md"), "### `/bg` commands"));
    const who = new Map<string, string>();
    for (const [command, , runs] of rows)
      for (const name of bgNames(command!)) who.set(name, runs!);
    expect(sorted(who.keys())).toEqual(sorted(NAMES));
    for (const c of COMMANDS)
      expect(who.get(c.name), c.name).toBe(c.permission === "anyone" ? "anyone" : "write*");
  });

  it("docs/commands.md describes exactly the registry's commands, and its permission table matches each command's", () => {
    const md = read("docs/commands.md");
    const headings = section(md, "## The commands").filter((l) => l.startsWith("### "));
    expect(sorted(headings.flatMap(bgNames))).toEqual(sorted(NAMES));

    const who = new Map<string, string>();
    for (const [names, runs] of tableRows(section(md, "## Who may use which command")))
      for (const m of names!.matchAll(/`(\w+)`/g)) who.set(m[1]!, runs!);
    expect(sorted(who.keys())).toEqual(sorted(NAMES));
    for (const c of COMMANDS)
      expect(who.get(c.name), c.name).toMatch(
        c.permission === "anyone" ? /^anyone/ : /commands\.min_permission/,
      );
  });
});

describe("/bg help through the app", () => {
  let app: E2E | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it("a signed comment `/bg help` is answered with exactly the registry's commands (no permission lookup)", async () => {
    app = await startE2E();
    nockToken();
    expect((await app.deliver("installation", installationCreated())).status).toBe(200);
    expect(
      (await app.deliver("issue_comment", commentEvent({ id: 701, body: "/bg help" }))).status,
    ).toBe(200);
    nockConfig();
    // Only the 👀 reaction and the reply: help is open to anyone, so GitHub is not asked.
    nock(API)
      .post(`/repos/${REPO}/issues/comments/701/reactions`, { content: "eyes" })
      .reply(201, { id: 1, content: "eyes" });
    const reply = nockNewComment(3, 9201);
    const pass = await app.pass();
    expect(pass.repos[0]!.processed).toMatchObject([{ type: "command", outcome: "done" }]);
    expect(reply.bodies).toHaveLength(1);
    const body = reply.bodies[0]!.body;
    const listed = [...body.matchAll(/^- `\/bg (\w+)/gm)].map((m) => m[1]);
    expect(listed).toEqual(NAMES);
    for (const c of COMMANDS) expect(body).toContain(`\`${c.usage}\``);
    expect(app.unmatched).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });
});

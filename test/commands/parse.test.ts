import { describe, expect, it } from "vitest";
import { MAX_PARSED, parseCommands, parseLine } from "../../src/commands/parse.js";

const commands = (body: string) =>
  parseCommands(body).items.map((i) => (i.ok ? i.command : { error: i.error }));

describe("/bg parser", () => {
  it("finds a /bg line anywhere in the comment, case-insensitively", () => {
    const body = "Looks good to me.\n\n/BG Approve\nthanks!\n  /bg pause 2h\r\n/bg STATUS";
    expect(commands(body)).toEqual([
      { name: "approve" },
      { name: "pause", duration: "2h", ms: 7_200_000 },
      { name: "status" },
    ]);
  });

  it("parses every command and its arguments", () => {
    expect(commands("/bg approve")).toEqual([{ name: "approve" }]);
    expect(commands("/bg approve 7")).toEqual([{ name: "approve", what: "7" }]);
    expect(commands("/bg approve nightly-digest")).toEqual([
      { name: "approve", what: "nightly-digest" },
    ]);
    expect(commands("/bg reject")).toEqual([{ name: "reject" }]);
    expect(commands("/bg reject fix too risky before the release")).toEqual([
      { name: "reject", what: "fix", reason: "too risky before the release" },
    ]);
    expect(commands("/bg reject this is not worth it.")).toEqual([
      { name: "reject", reason: "this is not worth it" },
    ]);
    expect(commands("/bg reject task:digest noisy")).toEqual([
      { name: "reject", what: "task:digest", reason: "noisy" },
    ]);
    expect(commands("/bg pause")).toEqual([{ name: "pause" }]);
    expect(commands("/bg resume")).toEqual([{ name: "resume" }]);
    expect(commands("/bg run debt-digest")).toEqual([{ name: "run", task: "debt-digest" }]);
    expect(commands("/bg budget")).toEqual([{ name: "budget" }]);
    expect(commands("/bg simulate")).toEqual([{ name: "simulate" }]);
    expect(commands("/bg help")).toEqual([{ name: "help" }]);
    expect(commands("/bg help run")).toEqual([{ name: "help", topic: "run" }]);
    expect(commands("/bg")).toEqual([{ name: "help" }]);
  });

  it("resume takes an optional task name; approve and reject take a Linear identifier", () => {
    expect(commands("/bg resume debt-digest")).toEqual([{ name: "resume", task: "debt-digest" }]);
    expect(parseLine("/bg resume a b")).toMatchObject({
      ok: false,
      name: "resume",
      error: expect.stringContaining("/bg resume [task-name]"),
    });
    expect(parseLine("/bg resume <x>")).toMatchObject({ ok: false, name: "resume" });
    expect(commands("/bg approve ENG-123")).toEqual([{ name: "approve", what: "ENG-123" }]);
    expect(commands("/bg approve linear:ENG-123.")).toEqual([
      { name: "approve", what: "linear:ENG-123" },
    ]);
    expect(commands("/bg reject ENG-123 duplicate of ENG-1")).toEqual([
      { name: "reject", what: "ENG-123", reason: "duplicate of ENG-1" },
    ]);
    expect(commands("/bg reject linear:eng-7")).toEqual([{ name: "reject", what: "linear:eng-7" }]);
    // Not an identifier: the words stay the reason.
    expect(commands("/bg reject linear:nope please")).toEqual([
      { name: "reject", reason: "linear:nope please" },
    ]);
    expect(parseLine("/bg approve linear:nope")).toMatchObject({ ok: false, name: "approve" });
  });

  it("ignores quoted lines, fenced and indented code blocks, and /bg inside words", () => {
    const body = [
      "> /bg approve",
      ">/bg pause",
      "```",
      "/bg approve",
      "```",
      "~~~~yaml",
      "/bg run x",
      "~~~",
      "/bg resume",
      "~~~~",
      "    /bg approve",
      "\t/bg approve",
      "/bgapprove",
      "see `/bg approve`",
      "/bg status",
    ].join("\n");
    expect(commands(body)).toEqual([{ name: "status" }]);
  });

  it("an unclosed fence hides everything after it", () => {
    expect(commands("```\n/bg approve\n")).toEqual([]);
  });

  it("turns unknown commands and wrong arguments into errors with the usage", () => {
    expect(parseLine("/bg frobnicate now")).toMatchObject({
      ok: false,
      error: "`frobnicate` is not a bg-agent command",
    });
    expect(parseLine("/bg pause so:on")).toMatchObject({
      ok: false,
      name: "pause",
      error: expect.stringContaining("/bg pause [duration | task-name]"),
    });
    expect(parseLine("/bg pause 1000d")).toMatchObject({ ok: false, name: "pause" });
    expect(parseLine("/bg run")).toMatchObject({
      ok: false,
      name: "run",
      error: expect.stringContaining("/bg run <task-name>"),
    });
    expect(parseLine("/bg run a b")).toMatchObject({ ok: false, name: "run" });
    expect(parseLine("/bg run ../etc")).toMatchObject({ ok: false, name: "run" });
    expect(parseLine("/bg status please")).toMatchObject({ ok: false, name: "status" });
    expect(parseLine("/bg approve this one")).toMatchObject({ ok: false, name: "approve" });
    expect(parseLine("/bg help nothing")).toMatchObject({ ok: false, name: "help" });
  });

  it("parses at most MAX_PARSED lines of a 64 KB comment and counts the rest", () => {
    const line = "/bg approve\n";
    const body = line.repeat(Math.floor(65_536 / line.length));
    const r = parseCommands(body);
    expect(r.items).toHaveLength(MAX_PARSED);
    expect(r.items.length + r.ignored).toBe(Math.floor(65_536 / line.length));
    // One 64 KB line: one bounded command, not a 64 KB reason.
    const long = parseCommands(`/bg reject ${"x".repeat(65_000)}`);
    expect(long.items).toHaveLength(1);
    const first = long.items[0]!;
    expect(
      first.ok && first.command.name === "reject" && (first.command.reason ?? "").length,
    ).toBeLessThanOrEqual(500);
    expect(first.line.length).toBeLessThanOrEqual(300);
  });

  it("handles empty and missing bodies", () => {
    expect(parseCommands(null)).toEqual({ items: [], ignored: 0 });
    expect(parseCommands("")).toEqual({ items: [], ignored: 0 });
  });
});

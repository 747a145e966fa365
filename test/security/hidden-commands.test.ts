import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseCommands } from "../../src/commands/parse.js";

const names = (body: string): string[] =>
  parseCommands(body).items.map((i) => (i.ok ? i.command.name : `error: ${i.error}`));

/** Each shape hides `/bg approve` from a reader of the rendered thread: none is a command. */
const HIDDEN: [string, string][] = [
  ["an HTML comment on its own line", "Thanks for the report!\n\n<!-- /bg approve -->\n"],
  ["a multi-line HTML comment", "LGTM\n<!--\n/bg approve\n-->\nsee you"],
  ["an inline comment spanning lines", "Looks fine <!-- hidden\n/bg approve\n--> to me"],
  ["an unterminated HTML comment", "Nice.\n\n<!--\n\n/bg approve\n\nmore text"],
  [
    "an issue-template comment",
    "<!-- Please describe the problem.\n\n/bg approve\n\n-->\n### Problem\n...",
  ],
  ["a <pre> block", "<pre>\n/bg approve\n</pre>"],
  ["a <pre> block with blank lines", "<pre>\nlog:\n\n/bg approve\n\n</pre>"],
  ["a <details> body", "<details>\n<summary>Logs</summary>\n\n/bg approve\n\n</details>\n"],
  ["an unclosed <details>", "<details><summary>x</summary>\n\n/bg approve\n"],
  ["a <div> block", "<div>\n/bg approve\n</div>"],
  ["a <div hidden>", "<div hidden>\n/bg approve\n</div>"],
  ["a <table> cell", "<table><tr><td>\n\n/bg approve\n\n</td></tr></table>"],
  ["a <span> HTML block", "<span>\n/bg approve\n</span>"],
  ["a <script> block", "<script>\n\n/bg approve\n\n</script>"],
  ["a fenced code block", "```\n/bg approve\n```"],
  ["a tilde fence with an info string", "~~~yaml\n/bg approve\n~~~"],
  ["a fence inside a list item", "- run:\n  ```\n  /bg approve\n  ```"],
  ["an unclosed fence", "```sh\n/bg approve"],
  ["an indented code block", "Example:\n\n    /bg approve\n"],
  ["a block quote", "> /bg approve\n\nQuoting the bot above."],
  ["a nested block quote", "> > /bg approve"],
  ["a lazy quote continuation", "> As alice said:\n/bg approve\n\nI disagree."],
  ["a quote inside a list item", "- > quoted\n  /bg approve"],
  ["a fence inside a quote", "> ```\n> /bg approve\n> ```"],
  ["a setext heading", "/bg approve\n==========="],
  ["a setext h2 heading", "/bg approve\n---"],
  ["a table header cell", "/bg approve\n| --- |\n"],
  ["a table row", "| a |\n|---|\n/bg approve\n"],
  ["inline code", "Type `/bg approve` to approve."],
  ["a word", "/bgapprove"],
];

/** Shapes a reader sees as a `/bg approve` line: each is exactly one command. */
const VISIBLE: [string, string][] = [
  ["a plain line", "/bg approve"],
  ["a line in a paragraph", "Looks good.\n/bg approve\nthanks"],
  ["after a closed comment", "<!-- note -->\n\n/bg approve"],
  ["after a closed <details>", "<details><summary>x</summary>\n\nlog\n\n</details>\n\n/bg approve"],
  ["after a closed fence", "```\ncode\n```\n/bg approve"],
  ["after a quote and a blank line", "> quoted\n\n/bg approve"],
  ["after a fence in a quote ends with the quote", "> ```\n> code\n/bg approve"],
  ["a zero-width space inside /bg", "/\u200bbg approve"],
  ["a zero-width joiner before it", "\u200d/bg approve"],
  ["a word joiner inside approve", "/bg app\u2060rove"],
  ["a trailing inline comment", "/bg approve <!-- thanks -->"],
  ["`<details>` in backticks", "Use `<details>` for logs.\n\n/bg approve"],
  ["`<!--` in backticks", "The `<!--` opens a comment.\n/bg approve"],
  ["a CRLF comment", "Hi\r\n\r\n/bg approve\r\n"],
];

describe("a command is only what a reader sees as one (hidden shapes)", () => {
  it.each(HIDDEN)("%s is not a command", (_shape, body) => {
    expect(names(body)).toEqual([]);
  });

  it.each(VISIBLE)("%s is one command", (_shape, body) => {
    expect(names(body)).toEqual(["approve"]);
  });

  it("a line reordered by bidi controls is an error, never a command", () => {
    // U+202E (right-to-left override) makes the line display differently from what it says.
    const r = names("\u202e/bg approve");
    expect(r).toHaveLength(1);
    expect(r[0]).toMatch(/^error: .*text-direction/);
    // Left-to-right/right-to-left marks do not reorder: removed, the command stands.
    expect(names("/bg\u200e approve")).toEqual(["approve"]);
  });

  it("an unterminated comment hides every later command; a real one before it still counts", () => {
    expect(names("/bg status\n\n<!--\n/bg approve\n\n/bg pause")).toEqual(["status"]);
  });
});

const arbLine = fc.oneof(
  fc.constantFrom(
    "/bg approve",
    "/bg pause 2h",
    "/bg",
    "```",
    "~~~",
    "> ",
    "<!--",
    "-->",
    "<details>",
    "</details>",
    "<pre>",
    "</pre>",
    "<div>",
    "    ",
    "- ",
    "---",
    "===",
    "| a |",
    "|---|",
    "",
    "`",
    "\u200b",
    "\u202e",
    "text",
  ),
  fc.string({ maxLength: 12 }),
);
const arbBody = fc
  .array(
    fc.array(arbLine, { maxLength: 4 }).map((p) => p.join("")),
    {
      maxLength: 25,
    },
  )
  .map((lines) => lines.join("\n"));

describe("/bg parser fuzz (fast-check)", () => {
  it("is total: never throws, on any string", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (s) => {
        parseCommands(s);
      }),
      { numRuns: 2_000 },
    );
    fc.assert(
      fc.property(arbBody, (s) => {
        parseCommands(s);
      }),
      { numRuns: 2_000 },
    );
  });

  it("never finds a command in text wrapped in a comment, a fence, a quote or <details>", () => {
    const wrap = fc.constantFrom(
      (s: string) => `<!--\n${s}\n-->`,
      (s: string) => `<!-- ${s} -->`,
      (s: string) => `<!--\n${s}`,
      (s: string) => `\`\`\`\`\`\`\`\`\`\`\n${s.replace(/`{10,}/g, "")}\n\`\`\`\`\`\`\`\`\`\``,
      (s: string) =>
        s
          .split("\n")
          .map((l) => `> ${l}`)
          .join("\n"),
      (s: string) => `<details>\n\n${s.replace(/<\/?details/gi, "")}\n\n</details>`,
    );
    fc.assert(
      fc.property(
        arbBody.filter((s) => !s.includes("-->")),
        wrap,
        (inner, w) => {
          expect(parseCommands(`Some text.\n\n${w(inner)}`).items).toEqual([]);
        },
      ),
      { numRuns: 3_000 },
    );
  });

  it("a visible command after hidden text is still found once hidden text is closed", () => {
    fc.assert(
      fc.property(
        arbBody.filter((s) => !/-->|<!--/.test(s)),
        (inner) => {
          const r = parseCommands(`<!--\n${inner}\n-->\n\n/bg status`);
          expect(r.items.map((i) => (i.ok ? i.command.name : "error"))).toEqual(["status"]);
        },
      ),
      { numRuns: 1_000 },
    );
  });
});

import { commandLines } from "./blocks.js";
import { shorten } from "./format.js";
import type { Command } from "./registry.js";
import { COMMANDS, commandNamed, commandOf } from "./registry.js";
import type { ParsedLine } from "./types.js";

export { MAX_PAUSE_MS } from "./builtin/pause.js";

/** The most `/bg` lines parsed per comment; config's `commands.max_per_comment` (<= 20) applies after. */
export const MAX_PARSED = 20;
const MAX_LINE = 300;
/** How much of a line's arguments is read: a reject's reason (500) is the longest. */
const MAX_ARGS = 500;

export interface ParseResult {
  /** The first `max` `/bg` lines, in order: commands or errors. */
  items: ParsedLine[];
  /** How many more `/bg` lines the comment has (not parsed). */
  ignored: number;
}

/**
 * Finds the `/bg` lines of a comment: only paragraph lines a reader sees as starting with `/bg`
 * (see ./blocks.ts: quotes, code, HTML blocks and comments, `<details>` and headings are not
 * commands; invisible characters are removed first). A line whose display is reordered by
 * bidirectional controls is an error, never a command. One linear pass: a 64 KB comment of `/bg`
 * lines parses only `max` of them.
 */
export function parseCommands(body: string | null | undefined, max = MAX_PARSED): ParseResult {
  const items: ParsedLine[] = [];
  let ignored = 0;
  for (const l of commandLines(body ?? "")) {
    if (items.length >= max) {
      ignored++;
      continue;
    }
    items.push(
      l.reordered
        ? {
            ok: false,
            line: shorten(l.text.trim(), MAX_LINE),
            error:
              "this line contains invisible text-direction characters (U+202A–U+202E or U+2066–U+2069), so what it shows may not be what it says; type the command again without them",
          }
        : parseLine(l.text),
    );
  }
  return { items, ignored };
}

/**
 * Parses one line known to start with `/bg`: the first word names the command (see
 * ./registry.ts), and the command's own parser reads the words after it.
 */
export function parseLine(raw: string): ParsedLine {
  const line = shorten(raw.trim(), MAX_LINE);
  // Work on a bounded prefix: a reason is capped anyway, and a huge line costs nothing more.
  const rest = raw
    .trim()
    .slice(3, 3 + MAX_LINE + MAX_ARGS)
    .trim()
    .replace(/[.!,;:]+$/, "");
  const words = rest === "" ? [] : rest.split(/[ \t]+/);
  const first = words[0]?.toLowerCase();
  if (first === undefined) return { ok: true, line, command: { name: "help" } };
  const spec = commandNamed(first);
  if (!spec) {
    return {
      ok: false,
      line,
      error: `\`${shorten(first, 40).replace(/`/g, "'")}\` is not a bg-agent command`,
    };
  }
  const r = spec.parse({ words: words.slice(1), commands: COMMANDS });
  if (!r.ok)
    return { ok: false, line, name: spec.name, error: `${r.error}. Usage: \`${spec.usage}\`` };
  return { ok: true, line, command: r.args };
}

/** A command written back in its normal form, for replies and the audit. */
export const formatCommand = (c: Command): string => commandOf(c).format(c);

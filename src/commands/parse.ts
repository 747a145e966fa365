import { parseDuration } from "../util/duration.js";
import { commandLines } from "./blocks.js";
import { isCommandName, specOf } from "./spec.js";
import type { Command, ParsedLine } from "./types.js";
import { LINEAR_ID_RE, TASK_NAME_RE } from "./types.js";

/** The most `/bg` lines parsed per comment; config's `commands.max_per_comment` (<= 20) applies after. */
export const MAX_PARSED = 20;
/** Longest pause a command may set. */
export const MAX_PAUSE_MS = 90 * 86_400_000;
const MAX_LINE = 300;
const MAX_REASON = 500;

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

const shorten = (s: string, n: number): string => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** Parses one line known to start with `/bg`. */
export function parseLine(raw: string): ParsedLine {
  const line = shorten(raw.trim(), MAX_LINE);
  // Work on a bounded prefix: a reason is capped anyway, and a huge line costs nothing more.
  const rest = raw
    .trim()
    .slice(3, 3 + MAX_LINE + MAX_REASON)
    .trim()
    .replace(/[.!,;:]+$/, "");
  const words = rest === "" ? [] : rest.split(/[ \t]+/);
  const first = words[0]?.toLowerCase();
  if (first === undefined) return { ok: true, line, command: { name: "help" } };
  if (!isCommandName(first)) {
    return {
      ok: false,
      line,
      error: `\`${shorten(first, 40).replace(/`/g, "'")}\` is not a bg-agent command`,
    };
  }
  const args = words.slice(1);
  const bad = (why: string): ParsedLine => ({
    ok: false,
    line,
    name: first,
    error: `${why}. Usage: \`${specOf(first).usage}\``,
  });
  const result = (command: Command): ParsedLine => ({ ok: true, line, command });
  switch (first) {
    case "approve": {
      if (args.length > 1) return bad("approve takes at most one argument (what to approve)");
      const what = args[0];
      if (what !== undefined && !isWhat(what, true))
        return bad(`\`${shorten(what, 40)}\` does not name a proposal or a task`);
      return result(what === undefined ? { name: "approve" } : { name: "approve", what });
    }
    case "reject": {
      const [head, ...tail] = args;
      const hasWhat = head !== undefined && isWhat(head, false);
      const what = hasWhat ? head : undefined;
      const reason = (hasWhat ? tail : args).join(" ").trim().slice(0, MAX_REASON);
      return result({ name: "reject", ...(what ? { what } : {}), ...(reason ? { reason } : {}) });
    }
    case "pause": {
      if (args.length > 1)
        return bad("pause takes at most one duration (such as 2h or 1d) or one task name");
      const d = args[0];
      if (d === undefined) return result({ name: "pause" });
      // A duration pauses the repository; anything else that is a task name pauses that task
      // (`task:<name>` for a task whose name reads as a duration, such as `task:2h`).
      const ms = /^task:/i.test(d) ? undefined : parseDuration(d);
      if (ms === undefined) {
        const task = d.replace(/^task:/i, "");
        if (!TASK_NAME_RE.test(task))
          return bad(`\`${shorten(d, 40)}\` is neither a duration (30m, 2h, 1d) nor a task name`);
        return result({ name: "pause", task });
      }
      if (ms > MAX_PAUSE_MS)
        return bad(
          "a pause lasts at most 90d (leave the duration out to pause until `/bg resume`)",
        );
      return result({ name: "pause", duration: d.toLowerCase(), ms });
    }
    case "run": {
      if (args.length !== 1) return bad("run takes the name of one task from .github/bg-agent.yml");
      const task = args[0]!;
      if (!TASK_NAME_RE.test(task)) return bad(`\`${shorten(task, 40)}\` is not a task name`);
      return result({ name: "run", task });
    }
    case "resume": {
      if (args.length > 1)
        return bad(
          "resume takes at most one task name (without one it ends the repository's pause)",
        );
      const task = args[0]?.replace(/^task:/i, "");
      if (task === undefined) return result({ name: "resume" });
      if (!TASK_NAME_RE.test(task)) return bad(`\`${shorten(task, 40)}\` is not a task name`);
      return result({ name: "resume", task });
    }
    case "help": {
      if (args.length > 1) return bad("help takes at most one command name");
      const topic = args[0]?.toLowerCase();
      if (topic !== undefined && !isCommandName(topic))
        return bad(`\`${shorten(topic, 20)}\` is not a command`);
      return result(topic ? { name: "help", topic } : { name: "help" });
    }
    case "status":
    case "tasks":
    case "budget":
    case "simulate":
      if (args.length) return bad(`${first} takes no arguments`);
      return result({ name: first });
  }
}

const KINDS = new Set(["fix", "task", "merge"]);

/**
 * Whether a word names something to approve or reject: a proposal id (`7`, `#7`), a kind, a
 * Linear issue (`ENG-123`, `linear:ENG-123`) or `task:<name>`. For approve (nothing else may
 * follow) a bare task name also counts.
 */
function isWhat(word: string, approve: boolean): boolean {
  if (/^#?\d{1,12}$/.test(word)) return true;
  if (KINDS.has(word.toLowerCase())) return true;
  if (/^linear:/i.test(word)) return LINEAR_ID_RE.test(word.slice(7));
  if (LINEAR_ID_RE.test(word)) return true;
  if (/^task:/i.test(word)) return TASK_NAME_RE.test(word.slice(5));
  return approve && TASK_NAME_RE.test(word);
}

/** A command written back in its normal form, for replies and the audit. */
export function formatCommand(c: Command): string {
  switch (c.name) {
    case "approve":
      return c.what ? `/bg approve ${c.what}` : "/bg approve";
    case "reject":
      return c.what ? `/bg reject ${c.what}` : "/bg reject";
    case "pause":
      if (c.task) return `/bg pause ${parseDuration(c.task) !== undefined ? "task:" : ""}${c.task}`;
      return c.duration ? `/bg pause ${c.duration}` : "/bg pause";
    case "resume":
      return c.task ? `/bg resume ${c.task}` : "/bg resume";
    case "run":
      return `/bg run ${c.task}`;
    case "help":
      return c.topic ? `/bg help ${c.topic}` : "/bg help";
    default:
      return `/bg ${c.name}`;
  }
}

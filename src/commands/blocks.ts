import { BIDI_REORDER_RE, removeInvisible } from "../context/hidden-text.js";

/**
 * A small scanner of the Markdown block structure GitHub renders (CommonMark + GFM), just enough
 * to tell which lines a person reading the comment sees as paragraph text. Everything else is
 * never a command: fenced and indented code, block quotes (and their lazy continuation lines),
 * HTML blocks, HTML comments (an unterminated one hides the rest of the comment), anything inside
 * `<details>`, `<table>`, `<div>`, `<pre>` and similar elements, headings and table rows.
 *
 * Where the scanner is unsure it errs on the side of "not a command": a line that would have
 * been a command may be ignored, never the reverse.
 */

export interface VisibleLine {
  /** The line as it reads: HTML comments and invisible characters removed. */
  text: string;
  /** The line holds characters that reorder how it is displayed (U+202A–E, U+2066–9). */
  reordered: boolean;
}

const FENCE = /^( {0,3})(`{3,}|~{3,})(.*)$/;
const CLOSE_FENCE = /^( *)(`{3,}|~{3,})[ \t]*$/;
const BLANK = /^[ \t]*$/;
const QUOTE = /^ {0,3}>/;
const LIST = /^ {0,3}(?:[-+*]|\d{1,9}[.)])(?=[ \t]|$)[ \t]?/;
const INDENTED = /^(?: {4}|\t| {1,3}\t)/;
const THEMATIC = /^ {0,3}(?:(?:-[ \t]*){3,}|(?:_[ \t]*){3,}|(?:\*[ \t]*){3,})$/;
const ATX = /^ {0,3}#{1,6}(?:[ \t]|$)/;
const SETEXT = /^ {0,3}(?:=+|-+)[ \t]*$/;
const TABLE_DELIM = /^ {0,3}\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$/;

/** HTML block starts (CommonMark types 1, 3, 4, 5: end at a marker; 6: ends at a blank line). */
const HTML_END: [RegExp, RegExp | null][] = [
  [/^ {0,3}<(?:script|pre|style|textarea)(?:[\s>]|$)/i, /<\/(?:script|pre|style|textarea)>/i],
  [/^ {0,3}<\?/, /\?>/],
  [/^ {0,3}<!\[CDATA\[/, /\]\]>/],
  [/^ {0,3}<![A-Za-z]/, />/],
  [
    /^ {0,3}<\/?(?:address|article|aside|base|basefont|blockquote|body|caption|center|col|colgroup|dd|details|dialog|dir|div|dl|dt|fieldset|figcaption|figure|footer|form|frame|frameset|h[1-6]|head|header|hr|html|iframe|legend|li|link|main|menu|menuitem|nav|noframes|ol|optgroup|option|p|param|search|section|summary|table|tbody|td|tfoot|th|thead|title|tr|track|ul)(?:[\s>]|\/>|$)/i,
    null,
  ],
];
/** Type 7: one complete open or closing tag alone on the line (cannot interrupt a paragraph). */
const HTML7 =
  /^ {0,3}(?:<[A-Za-z][A-Za-z0-9-]*(?:\s+[A-Za-z_:][\w.:-]*(?:\s*=\s*(?:[^\s"'=<>`]+|'[^']*'|"[^"]*"))?)*\s*\/?>|<\/[A-Za-z][A-Za-z0-9-]*\s*>)[ \t]*$/;

/** Elements whose content bg-agent never reads commands from (folded, tabular or raw). */
const CONTAINERS = new Set([
  "details",
  "summary",
  "table",
  "div",
  "pre",
  "textarea",
  "script",
  "style",
  "template",
  "noscript",
  "svg",
  "math",
  "iframe",
  "object",
]);
const TAG = /^<(\/?)([A-Za-z][A-Za-z0-9-]*)(?:\s[^<>]*?)?(\/?)>/;

interface InlineState {
  inComment: boolean;
  /** Open container elements, by tag name (a `</pre>` does not close a `<details>`). */
  open: Map<string, number>;
  /** Their total. */
  depth: number;
}

/**
 * One line's inline scan: tracks comments and container elements across lines; returns the
 * text outside comments and whether a container tag was on the line. Code spans are skipped (a
 * `<!--` or `<details>` in backticks is shown, not interpreted).
 */
function scanInline(line: string, st: InlineState): { visible: string; tags: boolean } {
  let out = "";
  let tags = false;
  let runs: { closeAfter(len: number, from: number): number } | undefined;
  let i = 0;
  let from = 0;
  const n = line.length;
  while (i < n) {
    if (st.inComment) {
      const j = line.indexOf("-->", i);
      if (j === -1) return { visible: out, tags };
      st.inComment = false;
      i = from = j + 3;
      continue;
    }
    const c = line.charCodeAt(i);
    if (c === 96 /* ` */) {
      let k = i;
      while (k < n && line.charCodeAt(k) === 96) k++;
      const run = k - i;
      // The closing run: the next run of exactly as many backticks (runs indexed once per line,
      // so a line of many different runs stays linear).
      runs ??= backtickRuns(line);
      const close = runs.closeAfter(run, k);
      i = close === -1 ? k : close;
      continue;
    }
    if (c === 60 /* < */) {
      if (line.startsWith("<!--", i)) {
        out += line.slice(from, i);
        if (line.startsWith(">", i + 4)) i += 5;
        else if (line.startsWith("->", i + 4)) i += 6;
        else {
          st.inComment = true;
          i += 4;
        }
        from = i;
        continue;
      }
      const t = TAG.exec(line.slice(i, i + 2_000));
      if (t && CONTAINERS.has(t[2]!.toLowerCase())) {
        tags = true;
        const name = t[2]!.toLowerCase();
        const had = st.open.get(name) ?? 0;
        if (t[1]) {
          if (had > 0) {
            st.open.set(name, had - 1);
            st.depth--;
          }
        } else if (!t[3]) {
          st.open.set(name, had + 1);
          st.depth++;
        }
        i += t[0].length;
        continue;
      }
    }
    i++;
  }
  out += line.slice(from);
  return { visible: out, tags };
}

/** The backtick runs of a line by length: `closeAfter(len, from)` is the end of the first run of exactly `len` starting at or after `from`, or -1. */
function backtickRuns(line: string): { closeAfter(len: number, from: number): number } {
  const byLen = new Map<number, number[]>();
  for (const m of line.matchAll(/`+/g)) {
    const list = byLen.get(m[0].length) ?? [];
    list.push(m.index);
    byLen.set(m[0].length, list);
  }
  const cursor = new Map<number, number>();
  return {
    closeAfter(len, from) {
      const list = byLen.get(len);
      if (!list) return -1;
      let c = cursor.get(len) ?? 0;
      while (c < list.length && list[c]! < from) c++;
      cursor.set(len, c);
      return c < list.length ? list[c]! + len : -1;
    },
  };
}

/** Strips nested block-quote and list-item markers: what the line's innermost content starts with. */
function innerContent(line: string): { content: string; quoted: boolean } {
  let rest = line;
  let quoted = false;
  for (let guard = 0; guard < 50; guard++) {
    if (QUOTE.test(rest)) {
      quoted = true;
      rest = rest.replace(/^ {0,3}> ?/, "");
      continue;
    }
    const l = LIST.exec(rest);
    if (l && !THEMATIC.test(rest)) {
      rest = rest.slice(l[0].length);
      continue;
    }
    break;
  }
  return { content: rest, quoted };
}

/** Whether a line starts a block that ends a paragraph (so it is no lazy continuation). */
function interrupts(line: string): boolean {
  return (
    BLANK.test(line) ||
    QUOTE.test(line) ||
    FENCE.test(line) ||
    THEMATIC.test(line) ||
    ATX.test(line) ||
    LIST.test(line) ||
    /^ {0,3}<!--/.test(line) ||
    HTML_END.some(([start]) => start.test(line))
  );
}

/**
 * The lines of a comment that a reader sees as paragraph text starting with `/bg` (at most
 * 3 spaces in, as Markdown allows), in order. Linear in the length of the text.
 */
export function commandLines(body: string): VisibleLine[] {
  const out: VisibleLine[] = [];
  /** Candidates of the current paragraph: a setext underline turns it into a heading. */
  let pending: VisibleLine[] = [];
  const flush = (): void => {
    for (const p of pending) out.push(p);
    pending = [];
  };
  const st: InlineState = { inComment: false, open: new Map(), depth: 0 };
  let fence: { char: string; len: number; indent: number; quoted: boolean } | null = null;
  let html: RegExp | "blank" | null = null;
  let paragraph = false;
  let lazyQuote = false;
  let table = false;
  /** The previous line's candidate: a table's delimiter row turns it into a header cell. */
  let lastCandidate: VisibleLine | null = null;

  let start = 0;
  const text = body;
  while (start <= text.length) {
    let end = text.indexOf("\n", start);
    if (end === -1) end = text.length;
    let line = text.slice(start, end);
    start = end + 1;
    if (line.endsWith("\r")) line = line.slice(0, -1);
    const previous = lastCandidate;
    lastCandidate = null;

    if (fence) {
      const inner = fence.quoted ? innerContent(line) : { content: line, quoted: false };
      if (fence.quoted && !inner.quoted) {
        // The quote ended, and the code block in it with it: this line is read afresh.
        fence = null;
      } else {
        const content = fence.quoted ? inner.content : line;
        const f = CLOSE_FENCE.exec(content);
        if (
          f &&
          f[2]![0] === fence.char &&
          f[2]!.length >= fence.len &&
          f[1]!.length <= Math.max(3, fence.indent)
        )
          fence = null;
        continue;
      }
    }

    if (st.inComment) {
      // Hidden text: only its end matters (and what the rest of that line opens). The line the
      // comment ends on is never a command: what follows `-->` does not start a line for a reader.
      scanInline(line, st);
      continue;
    }

    if (html !== null) {
      scanInline(line, st);
      if (html === "blank" ? BLANK.test(line) : html.test(line)) html = null;
      continue;
    }

    if (BLANK.test(line)) {
      flush();
      paragraph = false;
      lazyQuote = false;
      table = false;
      continue;
    }

    if (INDENTED.test(line) && !paragraph && !lazyQuote) continue; // indented code

    const { content, quoted } = innerContent(line);
    const lazy: boolean = !quoted && lazyQuote && !interrupts(line);
    if (quoted || lazy) {
      flush();
      paragraph = false;
      table = false;
      const f = FENCE.exec(content);
      if (quoted && f && !(f[2]![0] === "`" && f[3]!.includes("`"))) {
        fence = { char: f[2]![0]!, len: f[2]!.length, indent: f[1]!.length, quoted: true };
        lazyQuote = false;
        continue;
      }
      scanInline(content, st);
      lazyQuote = lazy || (!BLANK.test(content) && !interrupts(content));
      continue;
    }
    lazyQuote = false;

    const f = FENCE.exec(content);
    if (f && !(f[2]![0] === "`" && f[3]!.includes("`"))) {
      flush();
      paragraph = false;
      table = false;
      const indent = line.length - content.length + f[1]!.length;
      fence = { char: f[2]![0]!, len: f[2]!.length, indent, quoted: false };
      continue;
    }

    const htmlStart = HTML_END.find(([s]) => s.test(content));
    if (/^ {0,3}<!--/.test(content) || htmlStart || (!paragraph && HTML7.test(content))) {
      flush();
      paragraph = false;
      table = false;
      scanInline(line, st);
      // A type 2 block (a comment) ends with the comment, the rest of that line included.
      if (/^ {0,3}<!--/.test(content)) continue;
      const endRe = htmlStart ? htmlStart[1] : null;
      const done = endRe ? endRe.test(line) : false;
      if (!done) html = endRe ?? "blank";
      continue;
    }

    if (paragraph && SETEXT.test(line) && content === line) {
      pending = []; // the paragraph is a heading
      paragraph = false;
      continue;
    }
    if (paragraph && line.includes("|") && TABLE_DELIM.test(line)) {
      pending = pending.filter((p) => p !== previous); // the header row
      flush();
      paragraph = false;
      table = true;
      continue;
    }
    if (table) {
      scanInline(line, st);
      continue;
    }
    if (THEMATIC.test(line) || ATX.test(line)) {
      flush();
      paragraph = false;
      scanInline(line, st);
      continue;
    }

    // Paragraph text (a list item's too).
    const depthBefore = st.depth;
    const isListStart = content !== line;
    paragraph = true;
    const { visible, tags } = scanInline(line, st);
    if (isListStart || depthBefore > 0 || st.depth > 0 || tags) continue;
    const clean = removeInvisible(visible);
    if (!/^ {0,3}\/bg(?=[ \t]|$)/i.test(clean)) continue;
    const candidate: VisibleLine = { text: clean, reordered: BIDI_REORDER_RE.test(visible) };
    lastCandidate = candidate;
    pending.push(candidate);
  }
  flush();
  return out;
}

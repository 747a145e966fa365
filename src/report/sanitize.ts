import { redactSecrets } from "../util/secrets.js";
import { removeInvisible } from "../context/hidden-text.js";
import type { LinkPolicy } from "./link-policy.js";
import { isAllowedUrl } from "./link-policy.js";

export type { LinkPolicy } from "./link-policy.js";

/**
 * Makes LLM (or other untrusted) text safe to post:
 * - no raw HTML (`<` and `>` escaped, HTML comments removed), so no hidden markers can be forged
 *   and no `<img src>` is fetched;
 * - no link, image, reference definition, autolink, bare URL or e-mail address that is not
 *   allowed by `links` (the repository's own pages; for links also the allowed hosts): those are
 *   shown as inline code, never clickable, never fetched. Images only from the repository itself;
 * - no pinging @mentions (a zero-width joiner after the @), no `/bg` command lines, no invisible
 *   characters, bounded length.
 * Idempotent: sanitising sanitised text changes nothing (below `maxChars`).
 */
export function sanitize(text: string, maxChars = 20_000, links: LinkPolicy = {}): string {
  let t = text.length > maxChars ? `${text.slice(0, maxChars)}\n\n…(truncated)` : text;
  t = removeInvisible(t).replace(/[\uE000\uE001]/g, "");
  for (let prev = ""; prev !== t;) {
    prev = t;
    t = t.replace(/<!--[\s\S]*?-->/g, "");
  }
  // A code span's fence must be longer than any backtick run in the text, so it cannot pair
  // with another run: what is wrapped is code, whatever else the text holds.
  const longest = Math.max(0, ...[...t.matchAll(/`+/g)].map((m) => m[0].length));
  const ctx = new Ctx(links, longest + 1);

  const lines = t.split("\n");
  const out: string[] = [];
  let fence: { char: string; len: number } | null = null;
  for (const line of lines) {
    if (fence) {
      const c = /^ {0,3}(`{3,}|~{3,})[ \t]*$/.exec(line);
      if (c && c[1]![0] === fence.char && c[1]!.length >= fence.len) fence = null;
      out.push(escapeAngles(line));
      continue;
    }
    // Only fences at the start of the line are kept as fences (their extent is certain); an
    // indented one is treated as text, so nothing in it is trusted to be code.
    const f = /^(`{3,}|~{3,})(.*)$/.exec(line);
    if (f && !(f[1]![0] === "`" && f[2]!.includes("`"))) {
      fence = { char: f[1]![0]!, len: f[1]!.length };
      out.push(escapeAngles(line));
      continue;
    }
    out.push(ctx.line(line));
  }
  t = ctx.restore(out.join("\n"));
  // @user and @org/team: a zero-width joiner after the @ so GitHub does not ping.
  t = t.replace(/(^|[^A-Za-z0-9`])@(?=[A-Za-z0-9])/g, "$1@\u200d");
  // Lines that would read as commands.
  t = t.replace(/^(\s*)\/bg\b/gim, "$1∕bg");
  return redactSecrets(t);
}

/** For inline use in a table cell or a title. */
export const sanitizeInline = (text: string, max = 200, links: LinkPolicy = {}): string =>
  // One line before sanitising: joined afterwards, a fence's lines would be read as inline text.
  sanitize(text.replace(/\r?\n/g, " "), max, links)
    .replace(/\r?\n/g, " ")
    // A `|` not escaped yet (after an even number of backslashes) would end the table cell.
    .replace(/(?<!\\)((?:\\\\)*)\|/g, "$1\\|");

/** `<` and `>` escaped, except a block quote's `>` at the start of a line. */
function escapeAngles(s: string): string {
  const lead = /^(\s*(?:>\s*)*)/.exec(s)![0];
  return lead + s.slice(lead.length).replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

const PUNCT = /[!-/:-@[-`{-~]/;
const URL_PREFIX = String.raw`(?:[A-Za-z][A-Za-z0-9+.-]{0,31}\\?:\\?/\\?/|www\\?\.|(?:mailto|xmpp|tel|data|javascript)\\?:)`;
const BARE = new RegExp(
  String.raw`${URL_PREFIX}(?:(?!&(?:lt|gt|amp);)[^\s<>\`|[\]\uE000\uE001])*|[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+`,
  "g",
);
const TRAILING = /[.,:;!?'")\]*_~]+$/;

/** Holds the pieces already made safe (placeholders), and how to make a piece safe. */
class Ctx {
  private readonly kept: string[] = [];
  constructor(
    private readonly links: LinkPolicy,
    private readonly tick: number,
  ) {}

  private hold(s: string): string {
    this.kept.push(s);
    return `\uE000${this.kept.length - 1}\uE001`;
  }

  /**
   * The text with every held piece put back. A piece that starts with a backtick never follows
   * a backtick or a backslash directly (a space goes between): that would merge backtick runs or
   * escape the code span's opening backtick, and a URL meant to be code would be a link.
   */
  restore(s: string, depth = 0): string {
    let out = "";
    let last = 0;
    for (const m of s.matchAll(/\uE000(\d+)\uE001/g)) {
      out += s.slice(last, m.index);
      last = m.index + m[0].length;
      const piece = depth > 8 ? "" : this.restore(this.kept[Number(m[1])] ?? "", depth + 1);
      if (piece.startsWith("`") && /[`\\]$/.test(out)) out += " ";
      out += piece;
    }
    return out + s.slice(last);
  }

  /** Inline code that cannot pair with anything else in the text. */
  private code(s: string): string {
    if (!s) return "";
    const f = "`".repeat(this.tick);
    // `|` escaped: a table would split the code span at it.
    return this.hold(
      `${f}${s
        .replace(/`/g, "'")
        .replace(/\\?\|/g, "\\|")
        .replace(/</g, "&lt;")
        .replace(/>/g, "&gt;")}${f}`,
    );
  }

  /**
   * The URL when it may stay a link (an image with `image`), else null. Only plain URL characters:
   * no brackets, parentheses, quotes, `@` or escapes, so a kept URL cannot carry other Markdown.
   */
  private url(raw: string, image = false): string | null {
    if (!/^[A-Za-z0-9\-._~:/?#%&=+,;!*$]+$/.test(raw)) return null;
    return isAllowedUrl(raw, this.links, image) ? raw : null;
  }

  /** One line outside fenced code. */
  line(line: string): string {
    // A block quote's `>` markers stay; every other `>` is escaped.
    const lead = /^[ \t]*(?:>[ \t]*)*/.exec(line)![0];
    // `https\://` renders as `https://`: the escape must not hide a URL from what follows.
    let s = line.slice(lead.length).replace(/(?<!\\)((?:\\\\)*)\\([:/])/g, "$1$2");
    // Task list markers stay checkboxes.
    s = s.replace(
      /^([ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+)\[([ xX])\](?=[ \t])/,
      (_m, a: string, b: string) => this.hold(`${a}[${b}]`),
    );
    // Reference definitions: never a definition; the destination as code unless allowed.
    s = s.replace(
      /^\[((?:\\.|[^\\\]])+)\]:[ \t]*(<[^>\n]*>|\S+)/,
      (_m, label: string, dest: string) => {
        const u = dest.replace(/^<|>$/g, "");
        return `${this.text(label)}: ${this.url(u) ? this.hold(u) : this.code(u)}`;
      },
    );
    return lead + this.inline(s);
  }

  /**
   * Inline text: backslash escapes kept, code spans paired on the line (an unpaired backtick run
   * is escaped, so no code span can reach across lines or table cells), the rest made safe.
   */
  private inline(s: string): string {
    let out = "";
    let textStart = 0;
    let i = 0;
    const n = s.length;
    const flushText = (end: number): void => {
      out += this.text(s.slice(textStart, end));
    };
    while (i < n) {
      const c = s[i]!;
      if (c === "\uE000") {
        const j = s.indexOf("\uE001", i);
        i = j === -1 ? n : j + 1;
        continue;
      }
      if (c === "\\" && i + 1 < n && PUNCT.test(s[i + 1]!)) {
        flushText(i);
        const e = s[i + 1]!;
        out += this.hold(e === "<" ? "&lt;" : e === ">" ? "&gt;" : `\\${e}`);
        i += 2;
        textStart = i;
        continue;
      }
      if (c === "`") {
        let k = i;
        while (k < n && s[k] === "`") k++;
        const run = k - i;
        let close = -1;
        for (let m = k; m < n;) {
          if (s[m] === "|" && s[m - 1] !== "\\") break;
          if (s[m] !== "`") {
            m++;
            continue;
          }
          let e = m;
          while (e < n && s[e] === "`") e++;
          if (e - m === run) {
            close = e;
            break;
          }
          m = e;
        }
        flushText(i);
        if (close === -1) out += this.hold("\\`".repeat(run));
        else out += this.hold(escapeAngles(s.slice(i, close)));
        i = close === -1 ? k : close;
        textStart = i;
        continue;
      }
      i++;
    }
    flushText(n);
    return out;
  }

  /** Text outside code: links, images, autolinks, bare URLs and raw HTML made inert. */
  private text(s: string): string {
    if (!s) return s;
    let t = s;
    // Images and links: [text](dest "title"), ![alt](dest).
    t = t.replace(
      /(!?)\[((?:[^[\]\n]|\[[^[\]\n]*\])*)\]\(\s*(<[^<>\n]*>|[^\s()]*(?:\([^\s()]*\)[^\s()]*)*)(?:\s+(?:"[^"\n]*"|'[^'\n]*'|\([^()\n]*\)))?\s*\)/g,
      (_m, bang: string, label: string, dest: string) => {
        const u = dest.replace(/^<|>$/g, "");
        const ok = this.url(u, bang === "!");
        const shown = this.text(label);
        if (ok) return this.hold(`${bang}[`) + shown + this.hold(`](${u})`);
        return bang
          ? `${shown ? `${shown} ` : ""}(image not shown: ${this.code(u)})`
          : `${shown} (${this.code(u)})`;
      },
    );
    // Autolinks: <https://…>, <mailto:…>, <a@b.example>.
    t = t.replace(
      /<([A-Za-z][A-Za-z0-9+.-]{1,31}:[^\s<>]*|[^\s<>@]+@[^\s<>@]+)>/g,
      (_m, u: string) => (this.url(u) ? this.hold(`[${u}](${u})`) : this.code(u)),
    );
    // Bare URLs, www. links and e-mail addresses (GitHub links them).
    t = t.replace(BARE, (m: string) => {
      const tail = TRAILING.exec(m)?.[0] ?? "";
      const u = m.slice(0, m.length - tail.length);
      if (!u) return m;
      return (this.url(u) ? this.hold(u) : this.code(u)) + tail;
    });
    // Raw HTML and entities: shown as text.
    t = t.replace(
      /&(?!(?:amp|lt|gt);)(?=#\d{1,8};|#[xX][0-9A-Fa-f]{1,8};|[A-Za-z][A-Za-z0-9]{1,31};)/g,
      "&amp;",
    );
    t = t.replace(/</g, "&lt;");
    t = t.replace(/>/g, "&gt;");
    // Brackets that are left: never a link, reference or footnote.
    t = t.replace(/[[\]]/g, (b) => `\\${b}`);
    return t;
  }
}

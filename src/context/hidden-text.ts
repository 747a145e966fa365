/**
 * Text a person reading an issue does not see: HTML comments (hidden when GitHub renders the
 * Markdown), zero-width characters, bidirectional controls, Unicode tag characters and other
 * invisible format characters. bg-agent removes them from issue, PR and comment text before it
 * goes into a prompt, and says what it removed, so the model never reads instructions the issue's
 * readers cannot see.
 */

// Regex escapes (not the characters themselves), so the patterns are readable and lint-clean.
/** Zero-width and joiner characters, word joiners, invisible operators, BOM, soft hyphen, fillers. */
const ZERO_WIDTH = String.raw`\u00ad\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200d\u2060-\u2064\u3164\ufeff\uffa0`;
/** Bidirectional marks, embeddings, overrides and isolates (Trojan Source). */
const BIDI = String.raw`\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069`;
/** Overrides, embeddings and isolates only: they reorder what is shown (marks do not). */
const BIDI_REORDER = String.raw`\u202a-\u202e\u2066-\u2069`;
/** Other invisible format characters: deprecated format controls, interlinear annotations, variation selectors, musical format controls. */
const OTHER_FORMAT = String.raw`\u206a-\u206f\ufe00-\ufe0f\ufff9-\ufffb`;
/** Astral ranges (need the `u` flag): tag characters, variation selectors supplement, musical symbols format. */
const TAGS = String.raw`\u{e0000}-\u{e007f}`;
const OTHER_ASTRAL = String.raw`\u{e0100}-\u{e01ef}\u{1d173}-\u{1d17a}\u{1bca0}-\u{1bca3}`;

/** Every invisible character bg-agent removes (global, unicode). */
// The classes list single code points on purpose (combining ones included): each is removed alone.
export const INVISIBLE_RE = new RegExp(
  // eslint-disable-next-line no-misleading-character-class
  `[${ZERO_WIDTH}${BIDI}${OTHER_FORMAT}${TAGS}${OTHER_ASTRAL}]`,
  "gu",
);
/** Characters that reorder how a line is displayed. */
export const BIDI_REORDER_RE = new RegExp(`[${BIDI_REORDER}]`, "u");

// eslint-disable-next-line no-misleading-character-class
const ZERO_WIDTH_RE = new RegExp(`[${ZERO_WIDTH}]`, "u");
const BIDI_RE = new RegExp(`[${BIDI}]`, "u");
const TAGS_RE = new RegExp(`[${TAGS}]`, "u");

/** Removes invisible characters only (no counting). */
export const removeInvisible = (s: string): string => s.replace(INVISIBLE_RE, "");

export interface Removed {
  htmlComments: number;
  /** Characters inside the removed comments, delimiters included. */
  htmlCommentChars: number;
  zeroWidth: number;
  bidi: number;
  tags: number;
  otherFormat: number;
}

export const NOTHING_REMOVED: Removed = Object.freeze({
  htmlComments: 0,
  htmlCommentChars: 0,
  zeroWidth: 0,
  bidi: 0,
  tags: 0,
  otherFormat: 0,
});

export const addRemoved = (a: Removed, b: Removed): Removed => ({
  htmlComments: a.htmlComments + b.htmlComments,
  htmlCommentChars: a.htmlCommentChars + b.htmlCommentChars,
  zeroWidth: a.zeroWidth + b.zeroWidth,
  bidi: a.bidi + b.bidi,
  tags: a.tags + b.tags,
  otherFormat: a.otherFormat + b.otherFormat,
});

export const removedAnything = (r: Removed): boolean =>
  r.htmlComments + r.zeroWidth + r.bidi + r.tags + r.otherFormat > 0;

// `<!-->` and `<!--->` are complete (empty) comments for browsers and CommonMark; an unterminated
// one hides everything after it.
const COMMENT_RE = /<!--(?:-?>|[\s\S]*?-->|[\s\S]*$)/g;

/**
 * Removes HTML comments (an unterminated one to the end of the text) and invisible characters.
 * Comments are removed first, as a browser ends them (a zero-width character inside `-->` does
 * not end one, so removing characters first would reveal hidden text), then characters.
 */
export function stripHidden(text: string): { text: string; removed: Removed } {
  const removed: Removed = { ...NOTHING_REMOVED };
  let t = text.replace(COMMENT_RE, (m) => {
    removed.htmlComments++;
    removed.htmlCommentChars += m.length;
    return "";
  });
  t = t.replace(INVISIBLE_RE, (ch) => {
    if (ZERO_WIDTH_RE.test(ch)) removed.zeroWidth++;
    else if (BIDI_RE.test(ch)) removed.bidi++;
    else if (TAGS_RE.test(ch)) removed.tags++;
    else removed.otherFormat++;
    return "";
  });
  // Removing characters can join `<!` and `--` into a comment opener: remove what that opens
  // too (it only ever removes more), so the result is stable.
  while (t.includes("<!--")) {
    t = t.replace(COMMENT_RE, (m) => {
      removed.htmlComments++;
      removed.htmlCommentChars += m.length;
      return "";
    });
  }
  return { text: t, removed };
}

const fmt = (n: number): string => n.toLocaleString("en-US");
const plural = (n: number, one: string, many: string): string =>
  `${fmt(n)} ${n === 1 ? one : many}`;

/**
 * What was removed, in words: "1 HTML comment (212 characters), 3 zero-width characters".
 * Empty when nothing was.
 */
export function describeRemoved(r: Removed): string {
  const parts: string[] = [];
  if (r.htmlComments)
    parts.push(
      `${plural(r.htmlComments, "HTML comment", "HTML comments")} (${plural(r.htmlCommentChars, "character", "characters")})`,
    );
  if (r.zeroWidth) parts.push(plural(r.zeroWidth, "zero-width character", "zero-width characters"));
  if (r.bidi)
    parts.push(
      plural(r.bidi, "bidirectional control character", "bidirectional control characters"),
    );
  if (r.tags) parts.push(plural(r.tags, "Unicode tag character", "Unicode tag characters"));
  if (r.otherFormat)
    parts.push(plural(r.otherFormat, "other invisible character", "other invisible characters"));
  return parts.join(", ");
}

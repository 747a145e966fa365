/**
 * Makes LLM (or other untrusted) text safe to post: no pinging @mentions, no `/bg` command lines,
 * no raw HTML (so no hidden markers can be forged), bounded length.
 */
export function sanitize(text: string, maxChars = 20_000): string {
  let t = text.length > maxChars ? `${text.slice(0, maxChars)}\n\n…(truncated)` : text;
  t = t.replace(/<!--[\s\S]*?-->/g, "");
  t = t.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  // Re-allow markdown blockquotes that the escape above turned into &gt;.
  t = t.replace(/^(\s*)&gt;/gm, "$1>");
  // @user and @org/team: put a zero-width joiner after the @ so GitHub does not ping.
  t = t.replace(/(^|[^\w`])@([A-Za-z0-9][\w-]*)/g, "$1@\u200d$2");
  // Lines that would read as commands.
  t = t.replace(/^(\s*)\/bg\b/gim, "$1∕bg");
  return t;
}

/** For inline use in a table cell or a title. */
export const sanitizeInline = (text: string, max = 200): string =>
  sanitize(text, max).replace(/\r?\n/g, " ").replace(/\|/g, "\\|");

import { redactSecrets } from "./secrets.js";

/** An error's message, or what was thrown, as text. */
export const errText = (e: unknown): string =>
  redactSecrets(e instanceof Error ? e.message : String(e));

/**
 * An error's message made safe to quote inside a comment bg-agent posts: no backticks, HTML or
 * line breaks (they would break out of the sentence or the Markdown), at most `max` characters.
 */
export const errInline = (e: unknown, max: number): string =>
  errText(e)
    .replace(/[`<>\r\n]/g, " ")
    .slice(0, max);

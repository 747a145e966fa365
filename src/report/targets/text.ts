import { removeInvisible } from "../../context/hidden-text.js";
import { redactSecrets } from "../../util/secrets.js";

/**
 * Model (or error) text made safe for a chat message or a webhook: no invisible characters or
 * HTML comments, secrets redacted, no pinging mentions (`@everyone`, `@here`, `@channel`, `@user`
 * get a zero-width joiner after the @; Slack's `<!channel>` and Discord's `<@id>` are escaped by
 * the targets), bounded length. Idempotent.
 */
export function chatSafe(text: string, maxChars = 20_000): string {
  let t = text.length > maxChars ? `${text.slice(0, maxChars)}\n…(truncated)` : text;
  t = removeInvisible(t);
  for (let prev = ""; prev !== t;) {
    prev = t;
    t = t.replace(/<!--[\s\S]*?-->/g, "");
  }
  t = t.replace(/(^|[^A-Za-z0-9`])@(?=[A-Za-z0-9])/g, "$1@\u200d");
  return redactSecrets(t);
}

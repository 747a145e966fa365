import type { ExternalTarget } from "./types.js";

/** Slack's control characters: `<!channel>`, `<@U123>` and `<url|text>` need `<`, `&` is the escape. */
const escape = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** A section block's text is at most 3,000 characters: longer text becomes several blocks. */
export const SLACK_SECTION_CHARS = 3_000;
/** The most blocks bg-agent sends in one message (Slack allows 50). */
const MAX_BLOCKS = 40;

const chunks = (s: string, n: number): string[] => {
  const out: string[] = [];
  for (let i = 0; i < s.length; i += n) out.push(s.slice(i, i + n));
  return out.length ? out : [""];
};

/**
 * Slack incoming webhooks: `text` (mrkdwn, the notification's fallback) and blocks: a header, the
 * body in sections, the run line as context. Link unfurling off.
 */
export const slackTarget: ExternalTarget = {
  kind: "slack",
  requests(r, _creds) {
    const body = escape(r.text);
    const link = r.url ? ` · <${escape(r.url)}|on GitHub>` : "";
    const sections = chunks(body, SLACK_SECTION_CHARS)
      .slice(0, MAX_BLOCKS - 2)
      .map((text) => ({ type: "section", text: { type: "mrkdwn", text: text || " " } }));
    const payload = {
      text: `${escape(r.title)}\n${body.slice(0, 2_000)}`,
      unfurl_links: false,
      unfurl_media: false,
      blocks: [
        { type: "header", text: { type: "plain_text", text: r.title.slice(0, 150) } },
        ...sections,
        { type: "context", elements: [{ type: "mrkdwn", text: `${escape(r.meta)}${link}` }] },
      ],
    };
    return [{ body: JSON.stringify(payload), headers: { "content-type": "application/json" } }];
  },
};

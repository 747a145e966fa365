import type { ExternalTarget } from "./types.js";

/** Discord's limit on a message's `content`. */
export const DISCORD_MAX_CHARS = 2_000;

/** Splits text into pieces of at most `max` characters, at a line break when there is one. */
export function splitMessage(text: string, max = DISCORD_MAX_CHARS): string[] {
  const out: string[] = [];
  let rest = text;
  while (rest.length > max) {
    let cut = rest.lastIndexOf("\n", max);
    if (cut < max / 2) cut = max;
    out.push(rest.slice(0, cut));
    rest = rest.slice(cut).replace(/^\n/, "");
  }
  if (rest.length || !out.length) out.push(rest);
  return out;
}

/** `<@123>`, `<@&role>`, `<#channel>`: shown as text, never resolved. */
const defuse = (s: string): string => s.replace(/<([@#])/g, "<\u200d$1");

/**
 * Discord webhooks: `content` split into messages of at most 2,000 characters, no mention parsed
 * (`allowed_mentions: { parse: [] }`), link embeds suppressed.
 */
export const discordTarget: ExternalTarget = {
  kind: "discord",
  requests(r, _creds) {
    const link = r.url ? `\n<${r.url}>` : "";
    const full = defuse(`**${r.title}**\n${r.text}\n-# ${r.meta}`) + link;
    return splitMessage(full).map((content) => ({
      body: JSON.stringify({ content, allowed_mentions: { parse: [] }, flags: 4 }),
      headers: { "content-type": "application/json" },
    }));
  },
};

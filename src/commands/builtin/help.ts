import { z } from "zod";
import { defineCommand, findCommand, parseError, parsed, usageMarkdown } from "../command.js";
import { shorten } from "../format.js";

/** `/bg help [command]`: every command's usage (from the registry), or one command's. */
export const help = defineCommand({
  name: "help",
  schema: z.object({ name: z.literal("help"), topic: z.string().max(20).optional() }),
  usage: "/bg help [command]",
  summary: "This list.",
  permission: "anyone",
  mutates: false,
  parse({ words, commands }) {
    if (words.length > 1) return parseError("help takes at most one command name");
    const word = words[0]?.toLowerCase();
    if (word === undefined) return parsed({ name: "help" });
    const topic = findCommand(commands, word);
    if (!topic) return parseError(`\`${shorten(word, 20)}\` is not a command`);
    return parsed({ name: "help", topic: topic.name });
  },
  format: (c) => (c.topic ? `/bg help ${c.topic}` : "/bg help"),
  auditArgs: () => null,
  async handle(call, cmd) {
    const min = call.ctx.config.commands.min_permission;
    const topic = cmd.topic !== undefined ? findCommand(call.commands, cmd.topic)?.name : undefined;
    const list = usageMarkdown(call.commands, topic, min);
    const tail = topic
      ? ""
      : `\n\nPut each command on its own line; at most ${call.ctx.config.commands.max_per_comment} commands per comment are acted on. Quoted lines, code, HTML comments and folded details sections are ignored. See docs/commands.md.`;
    return { text: `bg-agent commands:\n\n${list}${tail}` };
  },
});

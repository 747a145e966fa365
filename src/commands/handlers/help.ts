import { isCommandName, usageMarkdown } from "../spec.js";
import type { Command } from "../types.js";
import type { Handler } from "./types.js";

/** `/bg help [command]`. */
export const help: Handler<Extract<Command, { name: "help" }>> = async (call, cmd) => {
  const min = call.ctx.config.commands.min_permission;
  const topic = cmd.topic !== undefined && isCommandName(cmd.topic) ? cmd.topic : undefined;
  const list = usageMarkdown(topic, min);
  const tail = topic
    ? ""
    : `\n\nPut each command on its own line; at most ${call.ctx.config.commands.max_per_comment} commands per comment are acted on. Quoted lines, code, HTML comments and folded details sections are ignored. See docs/commands.md.`;
  return { text: `bg-agent commands:\n\n${list}${tail}` };
};

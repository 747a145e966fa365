import { z } from "zod";
import { approve } from "./builtin/approve.js";
import { budget } from "./builtin/budget.js";
import { help } from "./builtin/help.js";
import { pause } from "./builtin/pause.js";
import { reject } from "./builtin/reject.js";
import { resume } from "./builtin/resume.js";
import { revise } from "./builtin/revise.js";
import { run } from "./builtin/run.js";
import { simulate } from "./builtin/simulate.js";
import { status } from "./builtin/status.js";
import { tasks } from "./builtin/tasks.js";
import type { BgCommand } from "./command.js";
import { findCommand } from "./command.js";

/**
 * Every `/bg` command, in the order `help` lists them. Adding one is adding its file under
 * ./builtin/ and its entry here: the parser's dispatch, the payload schema, the permission check,
 * the audit and `help` are all read from this list.
 */
export const COMMANDS = [
  approve,
  reject,
  pause,
  resume,
  run,
  status,
  tasks,
  budget,
  simulate,
  revise,
  help,
] as const;

type Registered = (typeof COMMANDS)[number];

/** A parsed command: one of the registry's argument types. */
export type Command = z.infer<Registered["schema"]>;
export type CommandName = Command["name"];

/** The registry as the dispatch sees it: each entry handles the arguments its own parser made. */
const ALL: readonly BgCommand<Command>[] = COMMANDS;

/** A parsed command as stored in a `command` task's payload (validated when the task runs). */
export const commandSchema: z.ZodType<Command> = z.union(COMMANDS.map((c) => c.schema));

/** The command a word names (name or alias, any case), or undefined. */
export const commandNamed = (word: string): BgCommand<Command> | undefined =>
  findCommand(ALL, word);

/** The registry entry of a parsed command. */
export const commandOf = (c: Command): BgCommand<Command> => commandNamed(c.name)!;

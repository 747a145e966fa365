import type { Command } from "../types.js";
import { approve } from "./approve.js";
import { budget } from "./budget.js";
import { help } from "./help.js";
import { pause, resume } from "./pause.js";
import { reject } from "./reject.js";
import { run } from "./run.js";
import { simulate } from "./simulate.js";
import { status } from "./status.js";
import { tasks } from "./tasks.js";
import type { CommandCall, HandlerResult } from "./types.js";

/** Runs one parsed command's handler. */
export function runHandler(call: CommandCall, cmd: Command): Promise<HandlerResult> {
  switch (cmd.name) {
    case "approve":
      return approve(call, cmd);
    case "reject":
      return reject(call, cmd);
    case "pause":
      return pause(call, cmd);
    case "resume":
      return resume(call, cmd);
    case "status":
      return status(call, cmd);
    case "tasks":
      return tasks(call, cmd);
    case "run":
      return run(call, cmd);
    case "budget":
      return budget(call, cmd);
    case "simulate":
      return simulate(call, cmd);
    case "help":
      return help(call, cmd);
  }
}

export type { CommandCall, HandlerResult } from "./types.js";

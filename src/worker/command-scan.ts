import { collectCommands } from "../commands/scan.js";

/**
 * Picks up `/bg` commands left on issues and PRs since the last run (permission-checked and acted
 * on once, by marker) and queues them as `command` tasks: how commands work without the app.
 */
export type CommandCollector = typeof collectCommands;
export { collectCommands };

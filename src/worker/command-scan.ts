import type { GitHubClient, RepoRef } from "../integrations/github.js";
import type { Store } from "../store/index.js";

/**
 * Picks up `/bg` commands left on issues and PRs since the last run (permission-checked and acted
 * on once, by marker) and queues them as `command` tasks: how commands work without the app.
 * `since` is a time in ms since the epoch.
 */
export type CommandCollector = (
  octokit: GitHubClient,
  ref: RepoRef,
  store: Store,
  opts: { since: number },
) => Promise<unknown>;

/**
 * The commands scan, from src/commands/scan.ts (`collectCommands`), built on another branch.
 * TODO(merge): replace with `export { collectCommands } from "../commands/scan.js";`
 */
export const collectCommands: CommandCollector | undefined = undefined;

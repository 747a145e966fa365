import { sanitizeInline } from "../report/sanitize.js";
import type { Schedule } from "../store/schedules.js";
import { syncSchedules } from "../schedule/sync.js";
import type { CommandCall, HandlerResult } from "./command.js";

/**
 * Finds a task by exact name, else case-insensitively. The schedule rows mirror the config; a
 * task added since the last pass is brought in first (as `/bg run` does), on a valid config.
 */
export const findSchedule = (call: CommandCall, asked: string): Schedule | undefined => {
  const { store, repoName, config, configResult } = call.ctx;
  if (configResult.ok && !call.dryRun) syncSchedules(store, repoName, config.tasks, call.now);
  return (
    store.schedules.get(repoName, asked) ??
    store.schedules.list(repoName).find((x) => x.name.toLowerCase() === asked.toLowerCase())
  );
};

/** The reply for a task name that matches nothing: the names there are. */
export function unknownTask(call: CommandCall, asked: string, plain: string): HandlerResult {
  const { store, repoName } = call.ctx;
  const names = store.schedules
    .list(repoName)
    .map((x) => `\`${x.name}\``)
    .slice(0, 20);
  const known = names.length
    ? ` Tasks here: ${names.join(", ")}.`
    : " This repository has no tasks.";
  return {
    text: `There is no task \`${sanitizeInline(asked, 64).replace(/`/g, "'")}\` in this repository.${known} (${plain})`,
    audit: { result: "unknown task", target: `task:${asked}` },
  };
}

/** `note` when bg-agent is paused in this repository (a queued or resumed task waits), else "". */
export const whilePaused = (call: CommandCall, note: string): string =>
  call.ctx.store.activity.manualPause(call.ctx.repoName, call.now) ? note : "";

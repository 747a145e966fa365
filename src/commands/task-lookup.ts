import { sanitizeInline } from "../report/sanitize.js";
import type { Schedule } from "../store/schedules.js";
import { syncSchedules } from "../schedule/sync.js";
import type { CommandCall, HandlerResult } from "./command.js";

/**
 * Finds a task by exact name, else case-insensitively. The schedule rows mirror the config; a
 * task added since the last pass is brought in first (as `/bg run` does), on a valid config.
 */
export const findSchedule = async (
  call: CommandCall,
  asked: string,
): Promise<Schedule | undefined> => {
  const { store, repoName, config, configResult } = call.ctx;
  if (configResult.ok && !call.dryRun) await syncSchedules(store, repoName, config.tasks, call.now);
  return (
    (await store.schedules.get(repoName, asked)) ??
    (await store.schedules.list(repoName)).find((x) => x.name.toLowerCase() === asked.toLowerCase())
  );
};

/** The reply for a task name that matches nothing: the names there are. */
export async function unknownTask(
  call: CommandCall,
  asked: string,
  plain: string,
): Promise<HandlerResult> {
  const { store, repoName } = call.ctx;
  const names = (await store.schedules.list(repoName)).map((x) => `\`${x.name}\``).slice(0, 20);
  const known = names.length
    ? ` Tasks here: ${names.join(", ")}.`
    : " This repository has no tasks.";
  return {
    text: `There is no task \`${sanitizeInline(asked, 64).replace(/`/g, "'")}\` in this repository.${known} (${plain})`,
    audit: { result: "unknown task", target: `task:${asked}` },
  };
}

/** `note` when bg-agent is paused in this repository (a queued or resumed task waits), else "". */
export const whilePaused = async (call: CommandCall, note: string): Promise<string> =>
  (await call.ctx.store.activity.manualPause(call.ctx.repoName, call.now)) ? note : "";

import { z } from "zod";
import { sanitizeInline } from "../../report/sanitize.js";
import { enqueueManualRun } from "../../schedule/manual.js";
import { scheduleSource, syncSchedules } from "../../schedule/sync.js";
import { parseError, parsed, writeCommand } from "../command.js";
import { shorten } from "../format.js";
import { TASK_NAME_RE } from "../names.js";
import { whilePaused } from "../task-lookup.js";

/**
 * `/bg run <task>`: queues a run of a configured (or approved proposed) prompt task now, through
 * `enqueueManualRun`: at the requested priority, so it is not held back while people are active
 * (this comment is such activity), but it waits out a `/bg pause`. The budget is checked when it
 * runs.
 */
export const run = writeCommand({
  name: "run",
  schema: z.object({ name: z.literal("run"), task: z.string().regex(TASK_NAME_RE) }),
  usage: "/bg run <task-name>",
  summary: "Run a task from `.github/bg-agent.yml` now (the budget still applies).",
  parse({ words }) {
    if (words.length !== 1)
      return parseError("run takes the name of one task from .github/bg-agent.yml");
    const task = words[0]!;
    if (!TASK_NAME_RE.test(task)) return parseError(`\`${shorten(task, 40)}\` is not a task name`);
    return parsed({ name: "run", task });
  },
  format: (c) => `/bg run ${c.task}`,
  auditArgs: (c) => c.task,
  async handle(call, cmd) {
    const { store, repoName, config } = call.ctx;
    const declared =
      config.tasks.find((t) => t.name === cmd.task) ??
      config.tasks.find((t) => t.name.toLowerCase() === cmd.task.toLowerCase());
    // A task bg-agent proposed (and someone approved) is not in the file but has a schedule.
    const proposed = declared
      ? undefined
      : (await store.schedules.list(repoName)).find(
          (s) => s.origin !== "config" && s.name.toLowerCase() === cmd.task.toLowerCase(),
        );
    if (!declared && !proposed) {
      const names = config.tasks.map((t) => `\`${t.name}\``).slice(0, 20);
      const known = names.length
        ? ` Tasks here: ${names.join(", ")}.`
        : " This repository's config declares no tasks.";
      return {
        text: `There is no task \`${cmd.task}\` in \`.github/bg-agent.yml\`.${known}`,
        audit: { result: "unknown task", target: `task:${cmd.task}` },
      };
    }
    if (declared && !declared.enabled) {
      return {
        text: `The task \`${declared.name}\` is disabled in \`.github/bg-agent.yml\` (\`enabled: false\`); enable it to run it.`,
        audit: { result: "task disabled", target: `task:${declared.name}` },
      };
    }
    const name = declared?.name ?? proposed!.name;
    if (call.dryRun) return { text: `(dry run) Would queue the task \`${name}\` now.` };

    // The schedule rows mirror the config; a task added since the last pass is not there yet.
    // (Commands that change state only run on a valid config, so this never syncs from defaults.)
    if (declared) await syncSchedules(store, repoName, config.tasks, call.now);
    const running = (
      await store.tasks.list({ repo: repoName, type: "prompt_task", status: "running" })
    ).some((t) => t.source === scheduleSource(name));
    const r = await enqueueManualRun(store, repoName, name, call.actor, call.now);
    if (!r.ok) {
      return {
        text: `I did not queue \`${name}\`: ${sanitizeInline(r.why, 200)}.`,
        audit: { result: `not queued: ${r.why}`, target: `task:${name}` },
      };
    }
    const already = running
      ? " (it is running now; this run follows it)"
      : r.created
        ? ""
        : " (it was queued already)";
    const waits = await whilePaused(
      call,
      " bg-agent is paused here, so it runs after `/bg resume` (or when the pause ends).",
    );
    return {
      text: `🏃 Queued the task \`${name}\`${already} (task ${r.task.id}). It runs within the budget, and reports where the task's \`report_to\` says.${waits}`,
      audit: { result: `prompt_task ${r.task.id} queued`, target: `task:${name}` },
    };
  },
});

import type { Command } from "../types.js";
import type { Handler } from "./types.js";

/** `/bg run <task>`: queues a configured prompt task now; its budget is checked when it runs. */
export const run: Handler<Extract<Command, { name: "run" }>> = async (call, cmd) => {
  const { store, repoName, config } = call.ctx;
  const task =
    config.tasks.find((t) => t.name === cmd.task) ??
    config.tasks.find((t) => t.name.toLowerCase() === cmd.task.toLowerCase());
  if (!task) {
    const names = config.tasks.map((t) => `\`${t.name}\``).slice(0, 20);
    const known = names.length
      ? ` Tasks here: ${names.join(", ")}.`
      : " This repository's config declares no tasks.";
    return {
      text: `There is no task \`${cmd.task}\` in \`.github/bg-agent.yml\`.${known}`,
      audit: { result: "unknown task", target: `task:${cmd.task}` },
    };
  }
  if (!task.enabled) {
    return {
      text: `The task \`${task.name}\` is disabled in \`.github/bg-agent.yml\` (\`enabled: false\`); enable it to run it.`,
      audit: { result: "task disabled", target: `task:${task.name}` },
    };
  }
  if (call.dryRun) return { text: `(dry run) Would queue the task \`${task.name}\` now.` };
  const r = store.tasks.enqueue(
    {
      repo: repoName,
      type: "prompt_task",
      source: `schedule:${task.name}`,
      payload: { name: task.name, manual: true, requestedBy: call.actor },
    },
    call.now,
  );
  const already =
    r.task.status === "running"
      ? " (it is running now; this run follows it)"
      : r.outcome === "created"
        ? ""
        : " (it was queued already)";
  const paused = store.activity.manualPause(repoName, call.now);
  const waits = paused
    ? " bg-agent is paused here, so it runs after `/bg resume` (or when the pause ends)."
    : "";
  return {
    text: `🏃 Queued the task \`${task.name}\`${already} (task ${r.task.id}). It runs within the budget, and reports where the task's \`report_to\` says.${waits}`,
    audit: { result: `prompt_task ${r.task.id} queued`, target: `task:${task.name}` },
  };
};

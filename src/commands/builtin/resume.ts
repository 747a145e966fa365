import { z } from "zod";
import { sanitizeInline } from "../../report/sanitize.js";
import { resumeSchedule } from "../../schedule/lifecycle.js";
import type { CommandCall, HandlerResult } from "../command.js";
import { parseError, parsed, writeCommand } from "../command.js";
import { iso, shorten } from "../format.js";
import { TASK_NAME_RE } from "../names.js";
import { findSchedule, unknownTask, whilePaused } from "../task-lookup.js";

/** `/bg resume`: ends this repository's pause; `/bg resume <task>` restarts that task's schedule. */
export const resume = writeCommand({
  name: "resume",
  schema: z.object({
    name: z.literal("resume"),
    task: z.string().regex(TASK_NAME_RE).optional(),
  }),
  usage: "/bg resume [task-name]",
  summary:
    "End this repository's pause; with a task name, restart that task's schedule after failures stopped it.",
  runsWithoutConfig: true,
  parse({ words }) {
    if (words.length > 1)
      return parseError(
        "resume takes at most one task name (without one it ends the repository's pause)",
      );
    const task = words[0]?.replace(/^task:/i, "");
    if (task === undefined) return parsed({ name: "resume" });
    if (!TASK_NAME_RE.test(task)) return parseError(`\`${shorten(task, 40)}\` is not a task name`);
    return parsed({ name: "resume", task });
  },
  format: (c) => (c.task ? `/bg resume ${c.task}` : "/bg resume"),
  auditArgs: (c) => c.task ?? null,
  async handle(call, cmd) {
    if (cmd.task !== undefined) return resumeTask(call, cmd.task);
    const { ctx } = call;
    const current = await ctx.store.activity.manualPause(ctx.repoName, call.now);
    const global = await ctx.store.activity.manualPause("*", call.now);
    const globalNote = global
      ? ` Note: bg-agent is also paused for every repository by ${global.pausedBy ?? "an admin"}; that pause is lifted from the app's admin API, not by a comment.`
      : "";
    if (!current || current.repo === "*") {
      return {
        text: `Nothing to resume: this repository is not paused.${globalNote}`,
        audit: { result: "not paused", target: call.where },
      };
    }
    if (call.dryRun) return { text: "(dry run) Would resume background work in this repository." };
    await ctx.store.activity.resume(ctx.repoName);
    return {
      text: `▶️ Resumed: background work continues in this repository.${globalNote}`,
      audit: {
        result: `resumed (was paused by ${current.pausedBy ?? "unknown"})`,
        target: call.where,
      },
    };
  },
});

/** `/bg resume <task>`: a task paused or failed (e.g. after two failed runs) becomes active again. */
async function resumeTask(call: CommandCall, asked: string): Promise<HandlerResult> {
  const { store, repoName } = call.ctx;
  const s = await findSchedule(call, asked);
  if (!s) return await unknownTask(call, asked, "Plain `/bg resume` ends the repository's pause.");
  const name = s.name;
  const target = `task:${name}`;
  if (s.status === "active") {
    const next = s.nextRunAt !== null ? ` Its next run is at ${iso(s.nextRunAt)}.` : "";
    return {
      text: `The task \`${name}\` is not paused: it is active.${next}`,
      audit: { result: "not paused", target },
    };
  }
  if (call.dryRun) return { text: `(dry run) Would resume the task \`${name}\`.` };
  const r = await resumeSchedule(store, repoName, name, call.now);
  if (!r.ok) {
    return {
      text: `I did not resume \`${name}\`: ${sanitizeInline(r.why, 200)}.`,
      audit: { result: `not resumed: ${r.why}`, target },
    };
  }
  const was = `${s.status}${s.statusReason ? `: ${s.statusReason}` : ""}`;
  const now = r.schedule;
  const next =
    now.status === "active" && now.nextRunAt !== null
      ? ` Its next run is at ${iso(now.nextRunAt)}.`
      : now.status !== "active"
        ? ` It is ${now.status}${now.statusReason ? ` (${sanitizeInline(now.statusReason, 200)})` : ""}.`
        : "";
  const waits = await whilePaused(
    call,
    " bg-agent itself is paused in this repository, so nothing runs until that pause ends (`/bg resume`).",
  );
  return {
    text: `▶️ Resumed the task \`${name}\` (it was ${sanitizeInline(was, 300)}).${next}${waits}`,
    audit: { result: `resumed task (was ${was.slice(0, 300)})`, target },
  };
}

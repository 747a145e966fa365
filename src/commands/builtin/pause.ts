import { z } from "zod";
import { sanitizeInline } from "../../report/sanitize.js";
import { pauseSchedule } from "../../schedule/lifecycle.js";
import { formatDuration, parseDuration } from "../../util/duration.js";
import type { CommandCall, HandlerResult } from "../command.js";
import { parseError, parsed, writeCommand } from "../command.js";
import { iso, shorten } from "../format.js";
import { TASK_NAME_RE } from "../names.js";
import { findSchedule, unknownTask } from "../task-lookup.js";

/** Longest pause a command may set. */
export const MAX_PAUSE_MS = 90 * 86_400_000;

/** `/bg pause [duration | task-name]`: stops LLM work and merges in this repository, or one task. */
export const pause = writeCommand({
  name: "pause",
  schema: z.object({
    name: z.literal("pause"),
    duration: z.string().max(20).optional(),
    ms: z.number().int().positive().optional(),
    task: z.string().regex(TASK_NAME_RE).optional(),
  }),
  usage: "/bg pause [duration | task-name]",
  summary:
    "Stop background work in this repository (LLM work and merges), for a while (`2h`, `1d`) or until `/bg resume`. With a task name (`/bg pause nightly-digest`, or `task:2h` for a task named like a duration), pause only that task's schedule until `/bg resume <task>`.",
  runsWithoutConfig: true,
  parse({ words }) {
    if (words.length > 1)
      return parseError("pause takes at most one duration (such as 2h or 1d) or one task name");
    const d = words[0];
    if (d === undefined) return parsed({ name: "pause" });
    // A duration pauses the repository; anything else that is a task name pauses that task
    // (`task:<name>` for a task whose name reads as a duration, such as `task:2h`).
    const ms = /^task:/i.test(d) ? undefined : parseDuration(d);
    if (ms === undefined) {
      const task = d.replace(/^task:/i, "");
      if (!TASK_NAME_RE.test(task))
        return parseError(
          `\`${shorten(d, 40)}\` is neither a duration (30m, 2h, 1d) nor a task name`,
        );
      return parsed({ name: "pause", task });
    }
    if (ms > MAX_PAUSE_MS)
      return parseError(
        "a pause lasts at most 90d (leave the duration out to pause until `/bg resume`)",
      );
    return parsed({ name: "pause", duration: d.toLowerCase(), ms });
  },
  format(c) {
    if (c.task) return `/bg pause ${parseDuration(c.task) !== undefined ? "task:" : ""}${c.task}`;
    return c.duration ? `/bg pause ${c.duration}` : "/bg pause";
  },
  auditArgs: (c) => c.duration ?? c.task ?? null,
  async handle(call, cmd) {
    if (cmd.task !== undefined) return pauseTask(call, cmd.task);
    const { ctx } = call;
    const until = cmd.ms ? call.now + cmd.ms : null;
    const how = until
      ? `for ${formatDuration(cmd.ms!)} (until ${iso(until)})`
      : "until someone comments `/bg resume`";
    if (call.dryRun) return { text: `(dry run) Would pause bg-agent in this repository ${how}.` };
    await ctx.store.activity.pause(ctx.repoName, call.actor, until, `/bg pause in ${call.where}`);
    return {
      text: `⏸️ Paused: no LLM work and no merges in this repository ${how}. Commands still work.`,
      audit: {
        result: until ? `paused until ${iso(until)}` : "paused until resumed",
        target: call.where,
      },
    };
  },
});

/** `/bg pause <task>`: that task's schedule stops until `/bg resume <task>`. */
async function pauseTask(call: CommandCall, asked: string): Promise<HandlerResult> {
  const { store, repoName } = call.ctx;
  const s = await findSchedule(call, asked);
  if (!s)
    return await unknownTask(
      call,
      asked,
      "A duration, like `/bg pause 2h`, pauses the repository.",
    );
  const target = `task:${s.name}`;
  if (s.status === "paused") {
    return {
      text: `The task \`${s.name}\` is already paused${s.statusReason ? ` (${sanitizeInline(s.statusReason, 200)})` : ""}.`,
      audit: { result: "already paused", target },
    };
  }
  if (call.dryRun) return { text: `(dry run) Would pause the task \`${s.name}\`.` };
  const r = await pauseSchedule(
    store,
    repoName,
    s.name,
    `@${call.actor}`,
    `/bg pause in ${call.where}`,
    call.now,
  );
  if (!r.ok) {
    return {
      text: `I did not pause \`${s.name}\`: ${sanitizeInline(r.why, 200)}.`,
      audit: { result: `not paused: ${r.why}`, target },
    };
  }
  return {
    text: `⏸️ Paused the task \`${s.name}\`: it does not run on its schedule until someone comments \`/bg resume ${s.name}\`. (\`/bg run ${s.name}\` still runs it once.)`,
    audit: { result: "paused task", target },
  };
}

import { sanitizeInline } from "../../report/sanitize.js";
import { pauseSchedule, resumeSchedule } from "../../schedule/lifecycle.js";
import { syncSchedules } from "../../schedule/sync.js";
import { formatDuration } from "../../util/duration.js";
import type { Command } from "../types.js";
import type { CommandCall, Handler, HandlerResult } from "./types.js";

const iso = (t: number): string => new Date(t).toISOString().replace(/\.\d{3}Z$/, "Z");

/** `/bg pause [duration]`: stops LLM work and merges in this repository. */
export const pause: Handler<Extract<Command, { name: "pause" }>> = async (call, cmd) => {
  if (cmd.task !== undefined) return pauseTask(call, cmd.task);
  const { ctx } = call;
  const until = cmd.ms ? call.now + cmd.ms : null;
  const how = until
    ? `for ${formatDuration(cmd.ms!)} (until ${iso(until)})`
    : "until someone comments `/bg resume`";
  if (call.dryRun) return { text: `(dry run) Would pause bg-agent in this repository ${how}.` };
  ctx.store.activity.pause(ctx.repoName, call.actor, until, `/bg pause in ${call.where}`);
  return {
    text: `⏸️ Paused: no LLM work and no merges in this repository ${how}. Commands still work.`,
    audit: {
      result: until ? `paused until ${iso(until)}` : "paused until resumed",
      target: call.where,
    },
  };
};

/** `/bg resume`: ends this repository's pause; `/bg resume <task>` restarts that task's schedule. */
export const resume: Handler<Extract<Command, { name: "resume" }>> = async (call, cmd) => {
  if (cmd.task !== undefined) return resumeTask(call, cmd.task);
  const { ctx } = call;
  const current = ctx.store.activity.manualPause(ctx.repoName, call.now);
  const global = ctx.store.activity.manualPause("*", call.now);
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
  ctx.store.activity.resume(ctx.repoName);
  return {
    text: `▶️ Resumed: background work continues in this repository.${globalNote}`,
    audit: {
      result: `resumed (was paused by ${current.pausedBy ?? "unknown"})`,
      target: call.where,
    },
  };
};

/**
 * Finds a task by exact name, else case-insensitively. The schedule rows mirror the config; a
 * task added since the last pass is brought in first (as `/bg run` does), on a valid config.
 */
const findSchedule = (call: CommandCall, asked: string) => {
  const { store, repoName, config, configResult } = call.ctx;
  if (configResult.ok && !call.dryRun) syncSchedules(store, repoName, config.tasks, call.now);
  return (
    store.schedules.get(repoName, asked) ??
    store.schedules.list(repoName).find((x) => x.name.toLowerCase() === asked.toLowerCase())
  );
};

/** The reply for a task name that matches nothing: the names there are. */
function unknownTask(call: CommandCall, asked: string, plain: string): HandlerResult {
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

/** `/bg pause <task>`: that task's schedule stops until `/bg resume <task>`. */
async function pauseTask(call: CommandCall, asked: string): Promise<HandlerResult> {
  const { store, repoName } = call.ctx;
  const s = findSchedule(call, asked);
  if (!s)
    return unknownTask(call, asked, "A duration, like `/bg pause 2h`, pauses the repository.");
  const target = `task:${s.name}`;
  if (s.status === "paused") {
    return {
      text: `The task \`${s.name}\` is already paused${s.statusReason ? ` (${sanitizeInline(s.statusReason, 200)})` : ""}.`,
      audit: { result: "already paused", target },
    };
  }
  if (call.dryRun) return { text: `(dry run) Would pause the task \`${s.name}\`.` };
  const r = pauseSchedule(
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

/** `/bg resume <task>`: a task paused or failed (e.g. after two failed runs) becomes active again. */
async function resumeTask(call: CommandCall, asked: string): Promise<HandlerResult> {
  const { store, repoName } = call.ctx;
  const s = findSchedule(call, asked);
  if (!s) return unknownTask(call, asked, "Plain `/bg resume` ends the repository's pause.");
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
  const r = resumeSchedule(store, repoName, name, call.now);
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
  const paused = store.activity.manualPause(repoName, call.now);
  const waits = paused
    ? " bg-agent itself is paused in this repository, so nothing runs until that pause ends (`/bg resume`)."
    : "";
  return {
    text: `▶️ Resumed the task \`${name}\` (it was ${sanitizeInline(was, 300)}).${next}${waits}`,
    audit: { result: `resumed task (was ${was.slice(0, 300)})`, target },
  };
}

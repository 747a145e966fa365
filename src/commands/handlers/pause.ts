import { formatDuration } from "../../util/duration.js";
import type { Command } from "../types.js";
import type { Handler } from "./types.js";

const iso = (t: number): string => new Date(t).toISOString().replace(/\.\d{3}Z$/, "Z");

/** `/bg pause [duration]`: stops LLM work and merges in this repository. */
export const pause: Handler<Extract<Command, { name: "pause" }>> = async (call, cmd) => {
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

/** `/bg resume`: ends this repository's pause. */
export const resume: Handler<Extract<Command, { name: "resume" }>> = async (call) => {
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

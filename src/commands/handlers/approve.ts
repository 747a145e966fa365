import { sanitizeInline } from "../../report/sanitize.js";
import type { Proposal } from "../../store/proposals.js";
import type { Command } from "../types.js";
import { capital, describe, notOpen, resolveProposal, taskName } from "./resolve.js";
import type { CommandCall, Handler, HandlerResult } from "./types.js";

/** `/bg approve [what]`: approves an open proposal and starts the work it stands for. */
export const approve: Handler<Extract<Command, { name: "approve" }>> = async (call, cmd) => {
  const r = resolveProposal(call, cmd.what);
  if ("none" in r)
    return { text: r.none, audit: { result: "nothing to approve", target: call.where } };
  const p = r.proposal;
  const closed = notOpen(p);
  if (closed)
    return { text: closed, audit: { result: `not open (${p.status})`, target: p.target } };
  if (call.dryRun) return { text: `(dry run) Would approve ${describe(p)}.` };
  switch (p.kind) {
    case "fix":
      return approveFix(call, p);
    case "task":
      return approveTask(call, p);
    case "merge":
      return approveMerge(call, p);
  }
};

function approveFix(call: CommandCall, p: Proposal): HandlerResult {
  const { store, repoName } = call.ctx;
  const key = p.payload["key"];
  if (typeof key !== "string" || !key) {
    return {
      text: `${capital(describe(p))} has no analysis key, so no fix can start from it. This is a bg-agent bug; please report it.`,
      audit: { result: "failed: proposal without key", target: p.target },
    };
  }
  const task = store.tx(() => {
    if (!store.proposals.decide(p.id, "approved", call.actor, null, call.now)) return null;
    return store.tasks.enqueue(
      { repo: repoName, type: "fix", source: p.target, payload: { key, proposalId: p.id } },
      call.now,
    ).task;
  });
  if (!task)
    return {
      text: notOpen(store.proposals.get(p.id)!) ?? "The proposal changed meanwhile.",
      audit: { result: "raced", target: p.target },
    };
  return {
    text: `✅ Approved ${describe(p)}. A fix is queued (task ${task.id}); bg-agent opens a pull request labelled \`bg:fix\` and links it here. The PR is not merged without a human review.`,
    audit: { result: `approved proposal ${p.id}; fix task ${task.id} queued`, target: p.target },
  };
}

function approveTask(call: CommandCall, p: Proposal): HandlerResult {
  const { store, repoName } = call.ctx;
  const name = taskName(p);
  const schedule = name ? store.schedules.get(repoName, name) : undefined;
  const ok = store.tx(() => {
    if (!store.proposals.decide(p.id, "approved", call.actor, null, call.now)) return false;
    if (schedule)
      store.schedules.update(
        schedule.id,
        { status: "active", nextRunAt: schedule.nextRunAt ?? call.now },
        call.now,
      );
    return true;
  });
  if (!ok)
    return {
      text: notOpen(store.proposals.get(p.id)!) ?? "The proposal changed meanwhile.",
      audit: { result: "raced", target: p.target },
    };
  const shown = sanitizeInline(name ?? "?", 64).replace(/`/g, "'");
  if (!schedule) {
    return {
      text: `✅ Approved ${describe(p)}, but its schedule is missing, so nothing will run yet. Add the task \`${shown}\` to \`.github/bg-agent.yml\` to run it.`,
      audit: {
        result: `approved proposal ${p.id}; schedule ${name ?? "?"} missing`,
        target: p.target,
      },
    };
  }
  return {
    text: `✅ Approved ${describe(p)}: its schedule is active now, and \`/bg run ${shown}\` runs it at once.`,
    audit: {
      result: `approved proposal ${p.id}; schedule ${schedule.name} active`,
      target: p.target,
    },
  };
}

function approveMerge(call: CommandCall, p: Proposal): HandlerResult {
  const { store, repoName } = call.ctx;
  const pr = Number(p.target.replace(/^pr:/, ""));
  const task = store.tx(() => {
    if (!store.proposals.decide(p.id, "approved", call.actor, null, call.now)) return null;
    if (!Number.isInteger(pr) || pr <= 0) return undefined;
    return store.tasks.enqueue(
      { repo: repoName, type: "automerge", source: `pr:${pr}`, payload: { pr } },
      call.now,
    ).task;
  });
  if (task === null)
    return {
      text: notOpen(store.proposals.get(p.id)!) ?? "The proposal changed meanwhile.",
      audit: { result: "raced", target: p.target },
    };
  return {
    text: `✅ Approved ${describe(p)}. bg-agent merges it once every automerge condition holds (checks green at the head commit, no blocking labels); \`/bg simulate\` shows where it stands.`,
    audit: {
      result: `approved proposal ${p.id}${task ? `; automerge task ${task.id} queued` : ""}`,
      target: p.target,
    },
  };
}

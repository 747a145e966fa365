import { z } from "zod";
import { sanitizeInline } from "../../report/sanitize.js";
import { approveTask } from "../../schedule/proposals.js";
import type { Proposal } from "../../store/proposals.js";
import type { ProvingTest } from "../../processors/fix/proving-test-schema.js";
import { provingTestSchema } from "../../processors/fix/proving-test-schema.js";
import type { CommandCall, HandlerResult } from "../command.js";
import { parseError, parsed, writeCommand } from "../command.js";
import { decisionOf } from "../decisions.js";
import { iso, shorten } from "../format.js";
import { proposalToDecide } from "../recover.js";
import { capital, describe, isWhat, notOpen, taskName, whatSchema } from "../resolve.js";

/** `/bg approve [what]`: approves an open proposal and starts the work it stands for. */
export const approve = writeCommand({
  name: "approve",
  schema: z.object({ name: z.literal("approve"), what: whatSchema.optional() }),
  usage: "/bg approve [what]",
  summary:
    "Approve bg-agent's open proposal on this thread: on an issue the fix plan (a fix PR follows) or a proposed task (its schedule starts); on a PR bg-agent opened, merging it. `what` may name a proposal id (`7`), a kind (`fix`, `task`, `merge`), a Linear issue's fix plan (`ENG-123`, on any issue of this repository) or a task (`task:nightly-digest`).",
  parse({ words }) {
    if (words.length > 1) return parseError("approve takes at most one argument (what to approve)");
    const what = words[0];
    if (what !== undefined && !isWhat(what, true))
      return parseError(`\`${shorten(what, 40)}\` does not name a proposal or a task`);
    return parsed(what === undefined ? { name: "approve" } : { name: "approve", what });
  },
  format: (c) => (c.what ? `/bg approve ${c.what}` : "/bg approve"),
  auditArgs: (c) => c.what ?? null,
  async handle(call, cmd) {
    const r = await proposalToDecide(call, cmd.what, "approve");
    if ("reply" in r) return r.reply;
    const p = r.proposal;
    switch (p.kind) {
      case "fix":
        return await approveFix(call, p);
      case "task":
        return await approveTaskProposal(call, p);
      case "merge":
        return await approveMerge(call, p);
    }
  },
});

async function approveFix(call: CommandCall, p: Proposal): Promise<HandlerResult> {
  const { store, repoName } = call.ctx;
  const held = call.ctx.env.fixesHeldBack;
  if (held)
    return {
      text: `Not approved yet: ${held}, and a runner keeps nothing for later runs, so the fix would be lost. ${capital(describe(p))} stays open: comment \`/bg approve\` again for a run that carries out fixes (mode \`all\` or \`analyze\`, with an LLM key and budget left).`,
      audit: { result: `not approved: ${held}`, target: p.target },
    };
  const key = p.payload["key"];
  if (typeof key !== "string" || !key) {
    return {
      text: `${capital(describe(p))} has no analysis key, so no fix can start from it. This is a bg-agent bug; please report it.`,
      audit: { result: "failed: proposal without key", target: p.target },
    };
  }
  const plan = p.payload["plan"];
  const files = p.payload["affectedFiles"];
  // A copy of what was approved, for a runner that claims this task without this store.
  const approved =
    typeof plan === "string" && plan.trim()
      ? {
          approved: {
            by: call.actor,
            at: call.now,
            contentHash: p.contentHash,
            plan,
            affectedFiles: Array.isArray(files)
              ? files.filter((f): f is string => typeof f === "string")
              : [],
            ...provingTestOf(p.payload["provingTest"]),
          },
        }
      : {};
  const task = await store.tx(async (t) => {
    if (!(await t.proposals.decide(p.id, "approved", call.actor, null, call.now))) return null;
    return (
      await t.tasks.enqueue(
        {
          repo: repoName,
          type: "fix",
          source: p.target,
          payload: { key, proposalId: p.id, ...approved },
        },
        call.now,
      )
    ).task;
  });
  if (!task)
    return {
      text: notOpen((await store.proposals.get(p.id))!) ?? "The proposal changed meanwhile.",
      audit: { result: "raced", target: p.target },
    };
  return {
    text: `✅ Approved ${describe(p)}. A fix is queued (task ${task.id}); bg-agent opens a pull request labelled \`bg:fix\` and links it here. The PR is not merged without a human review.`,
    audit: { result: `approved proposal ${p.id}; fix task ${task.id} queued`, target: p.target },
    ...decisionOf(p, "approved", call),
  };
}

/** The plan's proving test, when it has a valid one (the fix carries it out with the plan). */
function provingTestOf(v: unknown): { provingTest?: ProvingTest } {
  const r = provingTestSchema.safeParse(v);
  return r.success ? { provingTest: r.data } : {};
}

/** A task proposal: `approveTask` validates it against its schedule and starts the schedule. */
async function approveTaskProposal(call: CommandCall, p: Proposal): Promise<HandlerResult> {
  const { store, repoName } = call.ctx;
  const name = taskName(p);
  const shown = sanitizeInline(name ?? "?", 64).replace(/`/g, "'");
  if (!name)
    return {
      text: `${capital(describe(p))} names no task. This is a bg-agent bug; please report it.`,
      audit: { result: "failed: task proposal without a name", target: p.target },
    };
  const r = await approveTask(store, repoName, name, call.actor, call.now);
  if (!r.ok) {
    const closed = notOpen((await store.proposals.get(p.id)) ?? p);
    return {
      text:
        closed ??
        `I could not approve ${describe(p)}: ${sanitizeInline(r.why, 200)}. Nothing was changed.`,
      audit: { result: closed ? "raced" : `not approved: ${r.why}`, target: p.target },
    };
  }
  const s = r.schedule;
  const when =
    s.status === "active"
      ? `its schedule is active now${s.nextRunAt !== null ? ` (first run at ${iso(s.nextRunAt)})` : ""}, and \`/bg run ${shown}\` runs it at once.`
      : `its schedule is ${s.status}${s.statusReason ? ` (${sanitizeInline(s.statusReason, 200)})` : ""}.`;
  return {
    text: `✅ Approved ${describe(p)}: ${when}`,
    audit: {
      result: `approved proposal ${p.id}; schedule ${s.name} ${s.status}`,
      target: p.target,
    },
  };
}

async function approveMerge(call: CommandCall, p: Proposal): Promise<HandlerResult> {
  const { store, repoName } = call.ctx;
  const pr = Number(p.target.replace(/^pr:/, ""));
  const task = await store.tx(async (t) => {
    if (!(await t.proposals.decide(p.id, "approved", call.actor, null, call.now))) return null;
    if (!Number.isInteger(pr) || pr <= 0) return undefined;
    return (
      await t.tasks.enqueue(
        { repo: repoName, type: "automerge", source: `pr:${pr}`, payload: { pr } },
        call.now,
      )
    ).task;
  });
  if (task === null)
    return {
      text: notOpen((await store.proposals.get(p.id))!) ?? "The proposal changed meanwhile.",
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

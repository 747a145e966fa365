import { z } from "zod";
import type { Proposal, ProposalKind } from "../store/proposals.js";
import type { CommandCall } from "./command.js";
import { LINEAR_ID_RE, TASK_NAME_RE } from "./names.js";

/**
 * What `approve` / `reject` may name: a proposal id (`7` or `#7`), a proposal kind on this thread
 * (`fix`, `task`, `merge`), a Linear issue's fix plan (`ENG-123` or `linear:ENG-123`), or a task
 * (`task:<name>`, and for approve a bare `<name>`).
 */
export const whatSchema = z.string().min(1).max(80);

const KINDS = new Set(["fix", "task", "merge"]);

/**
 * Whether a word names something to approve or reject: a proposal id (`7`, `#7`), a kind, a
 * Linear issue (`ENG-123`, `linear:ENG-123`) or `task:<name>`. For approve (nothing else may
 * follow) a bare task name also counts.
 */
export function isWhat(word: string, approve: boolean): boolean {
  if (/^#?\d{1,12}$/.test(word)) return true;
  if (KINDS.has(word.toLowerCase())) return true;
  if (/^linear:/i.test(word)) return LINEAR_ID_RE.test(word.slice(7));
  if (LINEAR_ID_RE.test(word)) return true;
  if (/^task:/i.test(word)) return TASK_NAME_RE.test(word.slice(5));
  return approve && TASK_NAME_RE.test(word);
}

export type Resolution = { proposal: Proposal } | { none: string };

const describeKind: Record<ProposalKind, string> = {
  fix: "fix plan",
  task: "proposed task",
  merge: "merge of this PR",
};

/** Words for a proposal in a reply: `the fix plan (proposal 3)`. */
export function describe(p: Proposal): string {
  const name =
    p.kind === "task"
      ? ` \`${taskName(p) ?? "?"}\``
      : p.target.startsWith("linear:")
        ? ` for ${p.target.slice(7).replace(/[^A-Za-z0-9-]/g, "")}`
        : "";
  // id 0: read from bg-agent's analysis comment in a dry run, not stored.
  const which = p.id > 0 ? `proposal ${p.id}` : "from bg-agent's analysis comment";
  return `the ${describeKind[p.kind]}${name} (${which})`;
}

/** The task a `task` proposal is about: payload.name, else its target `task:<name>`. */
export function taskName(p: Proposal): string | undefined {
  const fromPayload = p.payload["name"];
  if (typeof fromPayload === "string" && fromPayload) return fromPayload;
  return p.target.startsWith("task:") ? p.target.slice(5) : undefined;
}

/**
 * The issue a task proposal was posted on: `payload.issue`, which `proposeTask` records when it is
 * given the issue (src/schedule/proposals.ts).
 */
const issueOf = (p: Proposal): number | undefined => {
  const v = p.payload["issue"];
  return typeof v === "number" ? v : undefined;
};

/** `ENG-123` or `linear:ENG-123` -> `ENG-123` (upper case, as Linear writes it), else undefined. */
export function linearIdOf(what: string): string | undefined {
  const id = /^linear:/i.test(what) ? what.slice(7) : what;
  return LINEAR_ID_RE.test(id) ? id.toUpperCase() : undefined;
}

/**
 * What `approve` / `reject` is about. Without `what`: the newest proposal on this thread (an
 * issue's fix plan or a task proposed there; a PR's merge). With `what`: a proposal id, a kind on
 * this thread, a Linear issue's fix plan (`ENG-123`, `linear:ENG-123`: from any thread of the
 * repository, as the analysis posted on Linear tells people), or a task (`task:<name>` or a bare
 * name).
 */
export async function resolveProposal(
  call: CommandCall,
  what: string | undefined,
  verb: "approve" | "reject" = "approve",
): Promise<Resolution> {
  const { store, repoName } = call.ctx;
  const thread = call.isPullRequest ? `pr:${call.number}` : `issue:${call.number}`;
  const here = call.isPullRequest ? "this pull request" : "this issue";
  if (what && /^#?\d+$/.test(what)) {
    const id = Number(what.replace("#", ""));
    const p = await store.proposals.get(id);
    if (!p || p.repo.toLowerCase() !== repoName.toLowerCase())
      return { none: `There is no proposal ${id} in this repository.` };
    return { proposal: p };
  }
  const kindWord = what?.toLowerCase();
  if (kindWord === "fix" || kindWord === "merge" || kindWord === "task") {
    const kind = kindWord as ProposalKind;
    const p =
      kind === "task" && !call.isPullRequest
        ? await taskOnIssue(call)
        : await store.proposals.latest(repoName, thread, kind);
    return p
      ? { proposal: p }
      : { none: `bg-agent has no ${describeKind[kind]} proposal on ${here}.` };
  }
  const linearId = what ? linearIdOf(what) : undefined;
  if (what && linearId) {
    const raw = /^linear:/i.test(what) ? what.slice(7) : what;
    const p =
      (await store.proposals.latest(repoName, `linear:${linearId}`, "fix")) ??
      (raw !== linearId
        ? await store.proposals.latest(repoName, `linear:${raw}`, "fix")
        : undefined);
    if (p) return { proposal: p };
    // A bare word may still be a task's name (`eng-1`); `linear:` says it is not.
    const task = /^linear:/i.test(what)
      ? undefined
      : await store.proposals.latest(repoName, `task:${what}`, "task");
    if (task) return { proposal: task };
    return {
      none: `bg-agent has no fix plan for the Linear issue ${linearId} in this repository. It proposes one after analysing the issue; the analysis comment on Linear says when.`,
    };
  }
  if (what) {
    const name = what.toLowerCase().startsWith("task:") ? what.slice(5) : what;
    const p = await store.proposals.latest(repoName, `task:${name}`, "task");
    return p
      ? { proposal: p }
      : { none: `bg-agent has not proposed a task named \`${name}\` in this repository.` };
  }
  if (call.isPullRequest) {
    const p = await store.proposals.latest(repoName, thread, "merge");
    return p
      ? { proposal: p }
      : {
          none:
            `There is nothing to ${verb} on this pull request: \`/bg ${verb}\` on a PR is about merging a PR that bg-agent opened itself. ` +
            `To ${verb} a fix plan, comment on its issue.`,
        };
  }
  const onIssue = await store.proposals.latest(repoName, thread);
  const open = onIssue?.status === "proposed" ? onIssue : ((await taskOnIssue(call)) ?? onIssue);
  return open
    ? { proposal: open }
    : {
        none:
          `There is nothing to ${verb} on this issue: bg-agent proposes a fix plan after it analyses a tech-debt issue, ` +
          `and approving that plan starts the fix. A Linear issue's plan is named by its identifier (\`/bg ${verb} ENG-123\`). \`/bg status\` shows what is queued.`,
      };
}

/** An open task proposal that was posted on this issue. */
async function taskOnIssue(call: CommandCall): Promise<Proposal | undefined> {
  return (
    await call.ctx.store.proposals.list({
      repo: call.ctx.repoName,
      status: "proposed",
      kind: "task",
    })
  ).find((p) => issueOf(p) === call.number);
}

/** Why a proposal cannot be decided any more, or null when it is open. */
export function notOpen(p: Proposal): string | null {
  if (p.status === "proposed") return null;
  const by = p.decidedBy ? ` by @\u200d${p.decidedBy}` : "";
  const when = p.decidedAt ? ` on ${new Date(p.decidedAt).toISOString().slice(0, 10)}` : "";
  switch (p.status) {
    case "approved":
      return `${capital(describe(p))} was already approved${by}${when}.`;
    case "rejected":
      return `${capital(describe(p))} was rejected${by}${when}; it is not proposed again unless its content changes.`;
    case "expired":
      return `${capital(describe(p))} has expired: the issue changed since. bg-agent proposes again after the next analysis.`;
  }
}

const capital = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);
export { capital };

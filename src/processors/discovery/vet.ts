import { validateTask } from "../../config/load.js";
import type { RepoConfig, TaskConfig } from "../../config/schema.js";
import { TASK_TOOLS } from "../../config/schema.js";
import type { Store } from "../../store/index.js";
import type { Proposal } from "../../store/proposals.js";
import { formatDuration, parseDuration } from "../../util/duration.js";
import { sha256 } from "../../util/hash.js";
import type { RawProposal } from "./answer.js";

/** A proposal that passed every check, ready for `proposeTask`. */
export interface Vetted {
  task: TaskConfig;
  /** The model's reason, untrusted (sanitised where posted). */
  why: string;
  /** The definition as validated (what `proposeTask` validates again and stores). */
  raw: Record<string, unknown>;
}

/** A proposal not offered to people, and why (logged, recorded on the run, posted with the report). */
export interface Dropped {
  name: string;
  why: string;
}

/**
 * A prompt as compared for the reject cooldown: Unicode NFC, lower case, whitespace collapsed,
 * trimmed. The same request reworded by a space or a capital is the same request.
 */
export const normalisedPrompt = (p: string): string =>
  p.normalize("NFC").toLowerCase().replace(/\s+/g, " ").trim();

export const promptHash = (p: string): string => sha256(normalisedPrompt(p)).slice(0, 16);

const READ_ONLY: ReadonlySet<string> = new Set(TASK_TOOLS);

const specOfProposal = (p: Proposal): { name?: string; prompt?: string } => {
  const spec = p.payload["spec"];
  if (!spec || typeof spec !== "object") return {};
  const s = spec as Record<string, unknown>;
  return {
    ...(typeof s["name"] === "string" ? { name: s["name"] } : {}),
    ...(typeof s["prompt"] === "string" ? { prompt: s["prompt"] } : {}),
  };
};

const ago = (ms: number): string => `${formatDuration(Math.max(60_000, ms))} ago`;

/**
 * Checks the model's proposals, in its order, and keeps at most `maxProposals`. Dropped with a
 * note, never offered:
 * - a tool that is not one of the read-only task tools (anything that could write);
 * - a definition the task schema refuses, a schedule faster than `schedule.min_interval` included
 *   (validated exactly as a config task);
 * - a name taken by a configured or proposed task, or repeated in the same answer (by name or prompt);
 * - a task rejected within `reject_cooldown` with the same name or the same (normalised) prompt;
 * - everything past `maxProposals`.
 * Proposals always report to the dashboard issue (`notify: on_change`); the model does not choose.
 */
export async function vetProposals(
  proposals: readonly RawProposal[],
  o: {
    store: Store;
    repo: string;
    config: RepoConfig;
    maxProposals: number;
    rejectCooldownMs: number;
    now: number;
  },
): Promise<{ offered: Vetted[]; dropped: Dropped[] }> {
  const offered: Vetted[] = [];
  const dropped: Dropped[] = [];
  const minMs = parseDuration(o.config.schedule.min_interval) ?? 300_000;
  const since = o.now - o.rejectCooldownMs;
  const rejected = (
    await o.store.proposals.list({ repo: o.repo, kind: "task", status: "rejected" })
  )
    .filter((p) => (p.decidedAt ?? p.createdAt) >= since)
    .map((p) => ({ p, spec: specOfProposal(p) }));
  const taken = new Set((await o.store.schedules.list(o.repo)).map((s) => s.name.toLowerCase()));
  const seenNames = new Set<string>();
  const seenPrompts = new Set<string>();

  for (const p of proposals) {
    const name = p.name.trim();
    const drop = (why: string): void => {
      dropped.push({ name: name.slice(0, 64), why });
    };
    const tools = p.tools ?? [];
    const writing = tools.filter((t) => !READ_ONLY.has(t));
    if (writing.length) {
      drop(
        `asks for ${writing.map((t) => `\`${t.slice(0, 40)}\``).join(", ")}, not among the read-only tools (${TASK_TOOLS.join(", ")}): proposals may only read`,
      );
      continue;
    }
    const raw: Record<string, unknown> = {
      name,
      prompt: p.prompt,
      ...(p.every ? { every: p.every } : {}),
      ...(p.cron ? { cron: p.cron } : {}),
      tools,
      report_to: "dashboard",
      notify: "on_change",
    };
    const v = validateTask(raw, ["proposal"], minMs, o.config.schedule.min_interval);
    if (!v.ok) {
      drop(`invalid as a task: ${v.problems.map((x) => `${x.path}: ${x.message}`).join("; ")}`);
      continue;
    }
    const key = name.toLowerCase();
    const ph = promptHash(p.prompt);
    if (taken.has(key)) {
      drop(`a task named ${name} exists already`);
      continue;
    }
    if (seenNames.has(key) || seenPrompts.has(ph)) {
      drop("repeats another proposal of this run");
      continue;
    }
    const hit = rejected.find(
      (r) =>
        r.spec.name?.toLowerCase() === key ||
        r.p.target.toLowerCase() === `task:${key}` ||
        (r.spec.prompt !== undefined && promptHash(r.spec.prompt) === ph),
    );
    if (hit) {
      const same =
        hit.spec.name?.toLowerCase() === key || hit.p.target.toLowerCase() === `task:${key}`
          ? "the same name"
          : "the same prompt";
      drop(
        `a task with ${same} was rejected${hit.p.decidedBy ? ` by ${hit.p.decidedBy}` : ""} ${ago(o.now - (hit.p.decidedAt ?? hit.p.createdAt))} (reject_cooldown: ${formatDuration(o.rejectCooldownMs)})`,
      );
      continue;
    }
    if (offered.length >= o.maxProposals) {
      drop(`over max_proposals (${o.maxProposals}) for one run`);
      continue;
    }
    seenNames.add(key);
    seenPrompts.add(ph);
    offered.push({ task: v.task, why: (p.why ?? "").trim(), raw });
  }
  return { offered, dropped };
}

import type { Usage } from "../../core/domain.js";
import { describeTrigger, triggerOf } from "../../schedule/triggers.js";
import type { LinkPolicy } from "../../report/link-policy.js";
import { sanitize, sanitizeInline } from "../../report/sanitize.js";
import type { Dropped, Vetted } from "./vet.js";

export interface DiscoveryReport {
  offered: { vetted: Vetted; proposalId: number }[];
  /** Dropped by bg-agent's checks, and proposals `proposeTask` refused. */
  dropped: Dropped[];
  model: string;
  escalated?: string | undefined;
  usage: Usage;
  links: LinkPolicy;
}

const code = (s: string): string => `\`${s.replace(/`/g, "'")}\``;

/**
 * The dashboard comment of one discovery run: each proposal (the model's words sanitised, its
 * prompt quoted) with the commands that decide it, then what was dropped and why.
 */
export function formatDiscoveryReport(r: DiscoveryReport): string {
  const parts: string[] = ["### bg-agent proposes background tasks"];
  if (r.offered.length) {
    parts.push(
      "Nothing runs until a person with write access approves it. Each task reads only (its tools are read-only) and reports here.",
    );
  }
  for (const { vetted, proposalId } of r.offered) {
    const t = vetted.task;
    const name = sanitizeInline(t.name, 64);
    const tools = t.tools.length ? t.tools.join(", ") : "none";
    parts.push(
      [
        `#### ${code(name)} (proposal ${proposalId})`,
        `${describeTrigger(triggerOf(t))} · tools: ${tools}`,
        vetted.why ? `\n${sanitize(vetted.why, 1_000, r.links)}` : "",
        "",
        sanitize(t.prompt, 4_000, r.links)
          .split("\n")
          .map((l) => `> ${l}`)
          .join("\n"),
        "",
        `Approve: ${code(`/bg approve task:${name}`)} · reject: ${code(`/bg reject task:${name} <reason>`)}`,
      ].join("\n"),
    );
  }
  if (r.dropped.length) {
    parts.push(
      [
        "**Not offered** (dropped by bg-agent's checks):",
        ...r.dropped.map(
          (d) => `- ${code(sanitizeInline(d.name, 64))}: ${sanitizeInline(d.why, 400)}`,
        ),
      ].join("\n"),
    );
  }
  const footer = [
    r.model,
    r.escalated ? `asked again of the main model (${sanitizeInline(r.escalated, 200)})` : undefined,
    `${r.usage.promptTokens + r.usage.completionTokens} tokens`,
    `$${r.usage.costUsd.toFixed(4)}`,
  ]
    .filter(Boolean)
    .join(" · ");
  parts.push(`<sub>discovery · ${footer}</sub>`);
  return parts.join("\n\n");
}

/** One line for the runs history. */
export function runSummary(offeredNames: string[], dropped: Dropped[]): string {
  const s = [
    offeredNames.length ? `proposed: ${offeredNames.join(", ")}` : "nothing proposed",
    ...(dropped.length
      ? [`dropped: ${dropped.map((d) => `${d.name} (${d.why})`).join("; ")}`]
      : []),
  ].join("; ");
  return s.length > 500 ? `${s.slice(0, 500)}…` : s;
}

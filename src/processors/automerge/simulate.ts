import type { ProcessorContext } from "../../core/worker-contract.js";
import { evaluatePull } from "./evaluate.js";
import { commitMessage } from "./merge.js";
import { conditionLine, conditionsTable } from "./report.js";

/**
 * `/bg simulate`: the full automerge evaluation of a PR as Markdown, merging nothing and writing
 * nothing (every condition is read, even for a PR bg-agent would not consider).
 */
export async function simulateAutomerge(
  ctx: ProcessorContext,
  pr: number,
): Promise<{ markdown: string }> {
  const ev = await evaluatePull(ctx, pr, { full: true });
  if (!ev)
    return { markdown: `**Automerge simulation for #${pr}:** this pull request does not exist.` };
  const s = ev.snapshot;
  const lines = [
    `**Automerge simulation for #${pr}** at ${s.headSha.slice(0, 7)} (nothing was merged or changed)`,
    "",
  ];
  lines.push(conditionsTable(ev.conditions), "");
  const unmet = ev.conditions.filter((c) => !c.met);
  if (ev.ready) {
    const how =
      ev.via === "merge_queue"
        ? `would add it to the merge queue (${s.details?.mergeQueue.source ?? "required"})`
        : ev.via === "auto_merge"
          ? `would enable GitHub auto-merge with ${ev.method.method}`
          : `would merge with ${ev.method.detail}`;
    const msg = commitMessage(ctx.config.automerge, s);
    lines.push(`**Result:** ${how}, pinned to ${s.headSha.slice(0, 7)}.`);
    if (ev.via !== "merge_queue" && ev.method.method !== "rebase")
      lines.push("", `Commit title: \`${msg.title.replace(/`/g, "'")}\``);
  } else if (
    ctx.config.automerge.update_branch &&
    unmet.length === 1 &&
    unmet[0]!.id === "up_to_date" &&
    ev.candidate
  ) {
    lines.push(
      `**Result:** would update the branch with ${s.baseRef}, then wait for the new checks.`,
    );
  } else {
    const reasons = unmet.map((c) => `- ${conditionLine(c)}`);
    lines.push("**Result:** would wait because:", ...reasons);
  }
  return { markdown: lines.join("\n") };
}

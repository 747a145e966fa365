import { sanitizeInline } from "../../report/sanitize.js";
import type { TaskStatus, TaskType } from "../../core/domain.js";
import { formatDuration } from "../../util/duration.js";
import { lastHumanActivity } from "../../core/paused.js";
import { infoCommand } from "../command.js";
import { iso } from "../format.js";

const ago = (now: number, t: number): string => `${formatDuration(Math.max(0, now - t))} ago`;

/** `/bg status`: the repository's queue, running work, last runs, pause and activity state. */
export const status = infoCommand({
  name: "status",
  summary: "Queue, running work, last runs, pause and activity state of this repository.",
  async handle(call) {
    const { ctx, now } = call;
    const { store, repoName, config } = ctx;
    const out: string[] = [];

    if (!ctx.configResult.ok) {
      out.push(
        "⚠️ **The config file `.github/bg-agent.yml` is invalid**, so no new work starts here. The `bg-agent/config` check run on the default branch lists the problems.",
      );
    }

    const pause = await store.activity.manualPause(repoName, now);
    if (pause) {
      const scope = pause.repo === "*" ? "all repositories" : "this repository";
      const until = pause.pausedUntil ? ` until ${iso(pause.pausedUntil)}` : " until resumed";
      out.push(
        `**Paused** (${scope}) by @\u200d${sanitizeInline(pause.pausedBy ?? "an admin", 60)}${until}.`,
      );
    } else out.push("**Not paused.**");

    const windowMin = config.activity.pause_when_active_minutes;
    const a = await store.activity.get(repoName);
    // Who, what (runners read it from GitHub), when, and until when LLM work waits.
    const seen = await lastHumanActivity(ctx, now);
    const line = seen ? sanitizeInline(seen, 200) : null;
    if (
      windowMin > 0 &&
      (await store.activity.isActive(repoName, windowMin * 60_000, now)) &&
      a.lastHumanAt !== null
    ) {
      out.push(`**People are active.** Last human activity: ${line}.`);
    } else {
      out.push(
        `**No one active** in the last ${windowMin} min${line ? ` (last human activity: ${line})` : ""}.`,
      );
    }

    // Queue by type and status.
    const byType = new Map<TaskType, Partial<Record<TaskStatus, number>>>();
    for (const c of await store.tasks.counts(repoName)) {
      const m = byType.get(c.type) ?? {};
      m[c.status] = (m[c.status] ?? 0) + c.count;
      byType.set(c.type, m);
    }
    if (byType.size) {
      out.push(
        "",
        "| Task type | Pending | Running | Failed | Done |",
        "|---|---:|---:|---:|---:|",
      );
      for (const [type, m] of [...byType.entries()].sort(([x], [y]) => x.localeCompare(y))) {
        out.push(
          `| ${type} | ${m.pending ?? 0} | ${m.running ?? 0} | ${m.failed ?? 0} | ${m.done ?? 0} |`,
        );
      }
    } else out.push("", "The queue is empty.");

    // The command being answered is running too: leave it out.
    const running = (await store.tasks.list({ repo: repoName, status: "running", limit: 11 }))
      .filter((t) => t.type !== "command")
      .slice(0, 10);
    if (running.length) {
      out.push("", "**Running now:**");
      for (const t of running)
        out.push(
          `- ${t.type} \`${sanitizeInline(t.source, 80).replace(/`/g, "'")}\` (task ${t.id}, attempt ${t.attempts})`,
        );
    }

    const runs = await store.runs.list({ repo: repoName, limit: 5 });
    if (runs.length) {
      out.push("", "**Last runs:**");
      for (const r of runs) {
        const ref = r.ref ? ` \`${sanitizeInline(r.ref, 80).replace(/`/g, "'")}\`` : "";
        const cost = r.costUsd > 0 ? `, $${r.costUsd.toFixed(4)}` : "";
        out.push(
          `- ${r.kind}${ref}: ${r.status} (${ago(now, r.finishedAt ?? r.startedAt)}${cost})`,
        );
      }
    }

    // Reports outside GitHub (report_to: slack:…) whose last attempt did not arrive.
    const failing = await store.reports.failing(repoName);
    if (failing.length) {
      out.push("", "**Reports not delivered:**");
      for (const d of failing.slice(0, 10))
        out.push(
          `- \`${sanitizeInline(d.task, 80).replace(/`/g, "'")}\` → \`${sanitizeInline(d.target, 120).replace(/`/g, "'")}\`: ${d.status === "unset" ? "not sent" : `failed after ${d.attempts} attempt(s)`} (${ago(now, d.createdAt)}): ${sanitizeInline(d.error ?? "", 200)}`,
        );
    }

    const open = await store.proposals.list({ repo: repoName, status: "proposed" });
    if (open.length)
      out.push(
        "",
        `**${open.length} proposal(s) await approval** (\`/bg approve\` on their issue).`,
      );
    return { text: out.join("\n") };
  },
});

import { sanitizeInline } from "../../report/sanitize.js";
import { syncSchedules } from "../../schedule/sync.js";
import { listScheduleViews } from "../../schedule/view.js";
import type { ScheduleView } from "../../schedule/view.js";
import { infoCommand } from "../command.js";
import { iso } from "../format.js";

/** Text in a table cell: no pipes, no backticks, no HTML, one line. */
const cell = (s: string, max = 120): string =>
  sanitizeInline(s, max).replace(/[|`]/g, "'").replace(/[<>]/g, "");

const STATUS_ICON: Record<ScheduleView["status"], string> = {
  active: "▶️ active",
  paused: "⏸️ paused",
  failed: "❌ failed",
  done: "✅ done",
  proposed: "💡 proposed",
};

function statusCell(v: ScheduleView): string {
  const base = STATUS_ICON[v.status];
  return v.reason ? `${base}: ${cell(v.reason, 160)}` : base;
}

function lastCell(v: ScheduleView): string {
  if (!v.lastRun) return v.lastRunAt !== null ? iso(v.lastRunAt) : "never";
  const when = v.lastRun.finishedAt ?? v.lastRunAt;
  const what = `${v.lastRun.status}${when !== null ? ` ${iso(when)}` : ""}`;
  const url = v.lastRun.url;
  return url && /^https:\/\/[^\s()<>]+$/.test(url) ? `[${what}](${url})` : what;
}

/**
 * `/bg tasks`: every prompt task of the repository in every state, with its trigger, next and
 * last run and a link to the last result. Open to anyone who may comment (it changes nothing:
 * the schedule rows are first brought in line with the config, as every pass does).
 */
export const tasks = infoCommand({
  name: "tasks",
  summary:
    "Every prompt task of this repository in every state (active, paused and why, failed, done, proposed): trigger, next and last run, and a link to the last result.",
  async handle(call) {
    const { store, repoName, config, configResult } = call.ctx;
    if (configResult.ok && !call.dryRun)
      await syncSchedules(store, repoName, config.tasks, call.now);
    const views = await listScheduleViews(store, { repo: repoName });
    if (!views.length) {
      return {
        text: "This repository has no prompt tasks. Declare them under `tasks:` in `.github/bg-agent.yml` (see docs/tasks.md).",
      };
    }
    const out = [
      `**${views.length} prompt task${views.length === 1 ? "" : "s"}:**`,
      "",
      "| Task | Status | Trigger | Next run | Last run |",
      "|---|---|---|---|---|",
    ];
    for (const v of views) {
      out.push(
        `| \`${cell(v.name, 64)}\` | ${statusCell(v)} | ${v.trigger ? cell(v.trigger) : "(invalid)"} | ${v.nextRunAt !== null ? iso(v.nextRunAt) : "—"} | ${lastCell(v)} |`,
      );
    }
    out.push(
      "",
      "`/bg run <task>` runs one now; `/bg pause <task>` and `/bg resume <task>` stop and restart its schedule.",
    );
    if (!configResult.ok)
      out.push(
        "",
        "⚠️ `.github/bg-agent.yml` is invalid: this is the last known state; no task starts until it is fixed.",
      );
    return { text: out.join("\n") };
  },
});

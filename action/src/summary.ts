import { redactSecrets } from "../../src/util/secrets.js";
import * as core from "@actions/core";
import type { RunSummary } from "../../src/worker/runner.js";

/** Job summary cells are HTML: nothing from an issue, a PR or a model may add markup. */
const esc = (s: string): string =>
  redactSecrets(s)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/@/g, "&#64;");
const usd = (n: number): string => `$${n.toFixed(n > 0 && n < 0.01 ? 4 : 2)}`;
const MAX_ROWS = 200;

/** The job summary: what was analysed, merged, skipped and why, tokens and cost. */
export async function writeJobSummary(s: RunSummary): Promise<void> {
  const sum = core.summary;
  const mode = `${s.mode}, ${s.via}${s.dryRun ? ", dry run" : ""}`;
  sum.addHeading(`bg-agent on ${esc(s.repo)} (${mode})`, 2);
  sum.addTable([
    [
      { data: "Analysed", header: true },
      { data: "Merged", header: true },
      { data: "Skipped", header: true },
      { data: "Failed", header: true },
      { data: "Tokens (cached)", header: true },
      { data: "Cost", header: true },
    ],
    [
      String(s.analysed),
      String(s.merged),
      String(s.skipped.length),
      String(s.failed.length),
      `${s.tokens.total.toLocaleString("en-US")} (${s.tokens.cached.toLocaleString("en-US")})`,
      usd(s.costUsd),
    ],
  ]);
  const b = s.budget;
  sum.addRaw(
    `<p><b>Budget</b>: today ${usd(b.spentTodayUsd)} of ${usd(b.dailyUsd)}, this month ${usd(b.spentMonthUsd)} of ${usd(b.monthlyUsd)}.${b.stopped ? ` <b>${esc(b.stopped)}</b>` : ""}</p>`,
    true,
  );
  const notes = [...s.errors.map((e) => `<b>Problem:</b> ${esc(e)}`), ...s.notes.map(esc)];
  if (notes.length) sum.addList(notes);
  if (s.items.length) {
    sum.addHeading("Work", 3);
    sum.addTable([
      [
        { data: "Type", header: true },
        { data: "Item", header: true },
        { data: "Outcome", header: true },
        { data: "Why", header: true },
      ],
      ...s.items
        .slice(0, MAX_ROWS)
        .map((i) => [esc(i.type), esc(i.item), esc(i.outcome), esc(i.detail ?? "")]),
    ]);
    if (s.items.length > MAX_ROWS)
      sum.addRaw(`<p>…and ${s.items.length - MAX_ROWS} more.</p>`, true);
  } else {
    sum.addRaw("<p>Nothing to do in this run.</p>", true);
  }
  const general = s.skipped.filter((x) => !x.item);
  if (general.length) {
    sum.addHeading("Held back", 3);
    sum.addList(general.map((x) => esc(x.reason)));
  }
  if (s.dashboard) sum.addLink(`Dashboard issue #${s.dashboard.number}`, s.dashboard.url);
  await sum.write();
}

/** A short summary for a run that could not start. */
export async function writeFailureSummary(message: string): Promise<void> {
  await core.summary
    .addHeading("bg-agent could not run", 2)
    .addRaw(`<p>${esc(message)}</p>`, true)
    .write();
}

/** Annotations for what a person should look at; the job log has the rest. */
export function annotate(s: RunSummary): void {
  for (const e of s.errors) core.error(e, { title: "bg-agent" });
  if (!s.config.valid)
    core.warning(`${s.config.path} is invalid: ${s.config.problems.join("; ")}`, {
      title: "bg-agent config",
    });
  else for (const n of s.notes) core.notice(n, { title: "bg-agent" });
  if (s.budget.stopped) core.notice(s.budget.stopped, { title: "bg-agent budget" });
  for (const x of s.skipped.filter((k) => !k.item)) core.warning(x.reason, { title: "bg-agent" });
  for (const f of s.failed.slice(0, 10))
    core.warning(`${f.type} ${f.item}: ${f.error}`, { title: "bg-agent task failed" });
  if (s.failed.length > 10)
    core.warning(`…and ${s.failed.length - 10} more failed tasks (see the job summary)`);
}

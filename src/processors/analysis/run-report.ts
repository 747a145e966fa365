import { repoHead } from "../../context/repo-head.js";
import { publishCheckRun } from "../../report/check-runs.js";
import { runSlot } from "../../core/run-state.js";
import type { ProcessorContext } from "../../core/worker-contract.js";
import type { BatchReport, IssueLine } from "./report.js";
import { renderCheckRun } from "./report.js";

export const CHECK_NAME = "bg-agent/analysis";

/** What this run reported so far per repository, so each check run update covers the whole run. */
export interface RunReport {
  batches: BatchReport[];
  issues: IssueLine[];
  notes: string[];
  updatedAt: number;
}
/** In the app the env outlives passes: a report idle this long starts over. */
const REPORT_IDLE_MS = 10 * 60_000;
const REPORTS = runSlot("analysis-report", () => new Map<string, RunReport>());
export function runReport(ctx: ProcessorContext): RunReport {
  const m = ctx.env.run.memo(REPORTS);
  let r = m.get(ctx.repoName);
  const now = Date.now();
  if (!r || now - r.updatedAt > REPORT_IDLE_MS)
    m.set(ctx.repoName, (r = { batches: [], issues: [], notes: [], updatedAt: now }));
  r.updatedAt = now;
  return r;
}

/** Publishes the run's report so far as the bg-agent/analysis check run on the default branch. */
export async function publishRun(ctx: ProcessorContext, model: string): Promise<void> {
  if (ctx.env.dryRun) return;
  const r = runReport(ctx);
  const b = ctx.config.budget;
  const c = renderCheckRun(
    ctx.repoName,
    r.batches,
    r.issues,
    r.notes,
    {
      today: await ctx.store.spend.today(ctx.repoName),
      daily: b.daily_usd,
      month: await ctx.store.spend.month(ctx.repoName),
      monthly: b.monthly_usd,
    },
    model,
  );
  try {
    const head = await repoHead(ctx);
    await publishCheckRun(ctx.octokit, ctx.repo, {
      name: CHECK_NAME,
      headSha: head.sha,
      conclusion: "neutral",
      ...c,
    });
  } catch (e) {
    ctx.log.error({ err: e }, "could not publish the bg-agent/analysis check run");
  }
}

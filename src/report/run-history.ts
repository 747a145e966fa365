import { z } from "zod";
import { marker, readState, stateBlock } from "./markers.js";

/**
 * What a standalone run (the Action or the CLI) keeps in bg-agent's dashboard issue, so the next
 * run on a fresh runner knows it: this month's spend per day (budgets hold across runs without a
 * database), the last run time (commands left since then are picked up), a manual pause, and the
 * recent runs shown as a table, and the scheduled prompt tasks' state (last and next run, run
 * count, failures) so that schedules hold across runs.
 */
export const runRecordSchema = z.object({
  at: z.number(),
  mode: z.string().max(20),
  via: z.enum(["standalone", "connected"]).default("standalone"),
  analysed: z.number().int().min(0),
  merged: z.number().int().min(0),
  skipped: z.number().int().min(0),
  failed: z.number().int().min(0).default(0),
  tokens: z.number().int().min(0),
  costUsd: z.number().min(0),
  url: z.string().url().max(500).optional(),
});
export type RunRecord = z.infer<typeof runRecordSchema>;

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * A scheduled prompt task's state between standalone runs (each starts with an empty store):
 * without it an `every:` task would run on every run and a `cron:` slot would never come.
 * Kept only while the task's definition is unchanged (`specHash`).
 */
export const savedScheduleSchema = z.object({
  specHash: z.string().max(128),
  status: z.enum(["proposed", "active", "paused", "done", "failed"]),
  statusReason: z.string().max(500).nullable().default(null),
  lastRunAt: z.number().nullable(),
  nextRunAt: z.number().nullable(),
  runCount: z.number().int().min(0),
  lastResultHash: z.string().max(128).nullable(),
  consecutiveFailures: z.number().int().min(0),
});
export type SavedSchedule = z.infer<typeof savedScheduleSchema>;

export const historyStateSchema = z.object({
  v: z.literal(1).default(1),
  lastRunAt: z.number().optional(),
  /** UTC day -> USD spent, this month only. */
  spend: z.record(z.string().regex(DAY), z.number().min(0)).default({}),
  paused: z
    .object({
      by: z.string().max(100),
      until: z.number().nullable(),
      reason: z.string().max(500).nullable(),
    })
    .optional(),
  runs: z.array(runRecordSchema).default([]),
  /** Scheduled prompt tasks by name. */
  schedules: z.record(z.string().max(100), savedScheduleSchema).default({}),
});
export type HistoryState = z.infer<typeof historyStateSchema>;

export const MAX_RUNS = 20;

export const emptyHistory = (): HistoryState => historyStateSchema.parse({});

/**
 * Reads the state block from the dashboard issue's body. A missing block is an empty history; a
 * block that does not validate is reported (the caller decides how careful to be), not guessed.
 */
export function readHistory(body: string | null | undefined): {
  state: HistoryState;
  problem?: string;
} {
  const raw = readState(body);
  if (raw === undefined) {
    const hasBlock = (body ?? "").includes("<!-- bg-agent-state:");
    return hasBlock
      ? { state: emptyHistory(), problem: "the state block does not parse as JSON" }
      : { state: emptyHistory() };
  }
  const parsed = historyStateSchema.safeParse(raw);
  if (!parsed.success) {
    return {
      state: emptyHistory(),
      problem: `the state block is invalid: ${parsed.error.issues[0]?.message ?? "?"}`,
    };
  }
  return { state: parsed.data };
}

/** Keeps this month's days only. */
export function monthSpend(spend: Record<string, number>, now: number): Record<string, number> {
  const month = new Date(now).toISOString().slice(0, 7);
  return Object.fromEntries(
    Object.entries(spend)
      .filter(([d]) => d.startsWith(month))
      .sort(([a], [b]) => a.localeCompare(b)),
  );
}

/**
 * The state to write back: the current spend (re-read just before writing, so a run that
 * finished meanwhile is not overwritten) plus what this run spent, per day.
 */
export function mergeHistory(
  current: HistoryState,
  mine: {
    spentDelta: Record<string, number>;
    run: RunRecord | null;
    lastRunAt: number;
    paused: HistoryState["paused"] | null;
    /** This run's schedules (they replace the saved ones); absent: the saved ones are kept. */
    schedules?: HistoryState["schedules"];
  },
  now: number,
): HistoryState {
  const spend: Record<string, number> = { ...current.spend };
  for (const [day, usd] of Object.entries(mine.spentDelta)) {
    if (usd > 0) spend[day] = Math.round(((spend[day] ?? 0) + usd) * 1e6) / 1e6;
  }
  const runs = mine.run ? [mine.run, ...current.runs] : current.runs;
  const next: HistoryState = {
    v: 1,
    lastRunAt: Math.max(current.lastRunAt ?? 0, mine.lastRunAt),
    spend: monthSpend(spend, now),
    runs: runs.slice(0, MAX_RUNS),
    schedules: mine.schedules ?? current.schedules,
  };
  if (mine.paused) next.paused = mine.paused;
  return next;
}

const usd = (n: number): string => `$${n.toFixed(n > 0 && n < 0.01 ? 4 : 2)}`;
const when = (t: number): string => new Date(t).toISOString().slice(0, 16).replace("T", " ");

/** The dashboard issue's body: a readable summary, the runs table, and the hidden state block. */
export function renderDashboard(
  state: HistoryState,
  budget: { dailyUsd: number; monthlyUsd: number },
  now: number,
): string {
  const today = new Date(now).toISOString().slice(0, 10);
  const spentToday = state.spend[today] ?? 0;
  const spentMonth = Object.values(monthSpend(state.spend, now)).reduce((a, b) => a + b, 0);
  const lines = [
    marker("dashboard", "main"),
    "bg-agent keeps its run history and this month's spend here, so that runs in CI know what came before.",
    "Please do not edit the hidden block at the end of this description.",
    "",
    `**Spend:** today ${usd(spentToday)} of ${usd(budget.dailyUsd)} · this month ${usd(spentMonth)} of ${usd(budget.monthlyUsd)}`,
  ];
  if (state.paused) {
    const until = state.paused.until ? ` until ${when(state.paused.until)} UTC` : "";
    lines.push("", `**Paused** by ${state.paused.by.replace(/@/g, "")}${until}.`);
  }
  lines.push("", "### Recent runs", "");
  if (!state.runs.length) lines.push("No runs yet.");
  else {
    lines.push(
      "| Time (UTC) | Mode | Analysed | Merged | Skipped | Failed | Tokens | Cost |",
      "|---|---|--:|--:|--:|--:|--:|--:|",
    );
    for (const r of state.runs) {
      const t = r.url ? `[${when(r.at)}](${r.url})` : when(r.at);
      const mode = r.via === "connected" ? `${r.mode} (connected)` : r.mode;
      lines.push(
        `| ${t} | ${mode} | ${r.analysed} | ${r.merged} | ${r.skipped} | ${r.failed} | ${r.tokens.toLocaleString("en-US")} | ${usd(r.costUsd)} |`,
      );
    }
  }
  lines.push("", stateBlock(state), "");
  return lines.join("\n");
}

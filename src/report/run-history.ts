import { z } from "zod";
import { marker, readState, stateBlock } from "./markers.js";

/**
 * What a standalone run (the Action or the CLI) keeps in bg-agent's dashboard issue, so the next
 * run on a fresh runner knows it: this month's spend per day (budgets hold across runs without a
 * database), the last run time (commands left since then are picked up), a manual pause, and the
 * recent runs shown as a table.
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

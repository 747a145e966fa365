import type { CheckConclusion } from "../../report/check-runs.js";
import type { AutomergeState } from "../../store/automerge-state.js";
import type { RunStatus } from "../../core/domain.js";
import type { TaskOutcome } from "../../core/worker-contract.js";
import { formatDuration } from "../../util/duration.js";
import type { MergeResult } from "./merge.js";
import { UPDATED_RECHECK_MS } from "./merge.js";
import { conditionLine } from "./report.js";
import type { Evaluation } from "./types.js";
import { CONDITION_LABELS } from "./types.js";

/*
 * The automerge decisions that follow an evaluation, pure: what to report for a PR (check run
 * headline, conclusion, "Next" line, store state) and what a task's outcome is. No GitHub here.
 */

/** What one PR's evaluation led to. */
export interface PrResult {
  pr: number;
  state: AutomergeState["state"] | "not_candidate" | "missing";
  detail: string;
  /** Look again at this time (checks running, head moved, one merge per base). */
  retryAt?: number;
}

/** What to report for a PR: check run headline, conclusion, the "Next" line, store state. */
export interface Report {
  state: AutomergeState["state"];
  headline: string;
  next: string;
  conclusion: CheckConclusion;
  run: RunStatus;
  retryAt?: number;
}

/** `300000` -> `5 minutes`. */
export function minutes(ms: number): string {
  const m = Math.max(1, Math.round(ms / 60_000));
  if (m < 120) return `${m} minute${m === 1 ? "" : "s"}`;
  return formatDuration(ms);
}

/** The PR result of a report: its state, `detail`, and when to look again. */
export const resultOf = (pr: number, r: Report, detail: string): PrResult => ({
  pr,
  state: r.state,
  detail,
  ...(r.retryAt ? { retryAt: r.retryAt } : {}),
});

/** The report for a PR bg-agent reported on before and no longer considers. */
export function notCandidateReport(ev: Evaluation, why: string): Report {
  return {
    state: "blocked",
    headline: `Not a candidate: ${CONDITION_LABELS[ev.firstUnmet!.id]}`,
    next: `bg-agent does not consider this PR (${why}).`,
    conclusion: "neutral",
    run: "skipped",
  };
}

/** The report for a ready PR whose base bg-agent merged into less than `settleMs` ago. */
export function settleReport(baseRef: string, retryAt: number, now: number): Report {
  return {
    state: "waiting",
    headline: "Waiting: another PR was just merged into the base",
    next: `bg-agent merged another PR into ${baseRef} in this pass; it looks at this one again in ${minutes(retryAt - now)}, so its checks run against the new base.`,
    conclusion: "neutral",
    run: "waiting",
    retryAt,
  };
}

/** The report for an evaluation that is not (yet) mergeable. */
export function waitingReport(ev: Evaluation, now: number): Report {
  const unmet = ev.conditions.filter((c) => !c.met);
  const first = ev.firstUnmet!;
  const label = CONDITION_LABELS[first.id];
  if (unmet.some((c) => c.kind === "blocked")) {
    const b = unmet.find((c) => c.kind === "blocked")!;
    return {
      state: "blocked",
      headline: `Not merging: ${CONDITION_LABELS[b.id]}`,
      next: `bg-agent will not merge this PR as it is (${CONDITION_LABELS[b.id].toLowerCase()}: ${b.detail}). It is not retried; a new push, review or label re-evaluates it, and a person can merge it by hand.`,
      conclusion: "neutral",
      run: "waiting",
    };
  }
  const retries = unmet.map((c) => c.retryInMs).filter((x): x is number => x !== undefined);
  if (retries.length) {
    const inMs = Math.min(...retries);
    return {
      state: "waiting",
      headline: `Waiting: ${label}`,
      next: `bg-agent looks again in ${minutes(inMs)}, and whenever a check finishes or a review arrives.`,
      conclusion: "neutral",
      run: "waiting",
      retryAt: now + inMs,
    };
  }
  const people = unmet
    .filter((c) => c.kind === "person")
    .map((c) => CONDITION_LABELS[c.id].toLowerCase());
  return {
    state: "waiting",
    headline: `Waiting: ${label}`,
    next: people.length
      ? `waiting for a person (${people.join(", ")}); bg-agent re-evaluates on the next push, review, label or check event.`
      : "bg-agent re-evaluates on the next push, review, label or check event.",
    conclusion: "neutral",
    run: "waiting",
  };
}

/** The `detail` of a waiting PR: its first unmet condition. */
export const waitingDetail = (ev: Evaluation, r: Report): string =>
  ev.firstUnmet ? conditionLine(ev.firstUnmet) : r.headline;

/** The report of a merge step's result (all but `not_ready`, which reports the fresh evaluation). */
export function mergeResultReport(
  result: Exclude<MergeResult, { kind: "not_ready" }>,
  now: number,
): { report: Report; detail: string } {
  switch (result.kind) {
    case "merged":
      return {
        report: {
          state: "merged",
          headline: `Merged with ${result.method}`,
          next: `merged at ${result.sha.slice(0, 7)}.`,
          conclusion: "success",
          run: "merged",
        },
        detail: `merged this PR with ${result.method}`,
      };
    case "queued":
      return {
        report: {
          state: "queued",
          headline:
            result.via === "merge_queue" ? "In the merge queue" : "GitHub auto-merge enabled",
          next: `${result.detail}; GitHub merges it when its own requirements hold.`,
          conclusion: "success",
          run: "ok",
        },
        detail: result.detail,
      };
    case "updated":
      return {
        report: {
          state: "waiting",
          headline: "Waiting: branch updated",
          next: `${result.detail}; bg-agent looks again in ${minutes(UPDATED_RECHECK_MS)}.`,
          conclusion: "neutral",
          run: "waiting",
          retryAt: now + UPDATED_RECHECK_MS,
        },
        detail: result.detail,
      };
    case "retry":
      return {
        report: {
          state: "waiting",
          headline: "Waiting: the head moved",
          next: `${result.reason} (in ${minutes(result.inMs)}).`,
          conclusion: "neutral",
          run: "waiting",
          retryAt: now + result.inMs,
        },
        detail: result.reason,
      };
    case "refused":
      return {
        report: {
          state: "waiting",
          headline: "Waiting: GitHub refused the merge",
          next: `${result.reason}. bg-agent re-evaluates on the next push, review, label or check event.`,
          conclusion: "neutral",
          run: "waiting",
        },
        detail: result.reason,
      };
  }
}

/** A task's outcome from its PRs' results: a retry at the earliest look-again time, else done. */
export function taskOutcome(results: readonly PrResult[]): TaskOutcome {
  const retries = results.map((r) => r.retryAt).filter((x): x is number => x !== undefined);
  if (retries.length) {
    return {
      status: "retry",
      at: Math.min(...retries),
      reason: results
        .filter((r) => r.retryAt)
        .map((r) => `#${r.pr}: ${r.detail}`)
        .join("; ")
        .slice(0, 500),
    };
  }
  return {
    status: "done",
    result: results.map((r) => ({ pr: r.pr, state: r.state, detail: r.detail })),
  };
}

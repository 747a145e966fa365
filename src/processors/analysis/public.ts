import { stateBlock } from "../../report/markers.js";
import { ownComments } from "../../report/own-comments.js";
import type { ThreadComment } from "../../report/own-comments.js";
import type { AnalysisState } from "./state.js";
import { readAnalysisState } from "./state.js";
import { githubKey } from "./sweep.js";

/**
 * The analysis's public API: what the rest of bg-agent (`/bg approve` and `/bg reject`, which
 * recover a fix plan where another process analysed the issue) may read of an analysis from
 * bg-agent's comment on the issue, and the one change it may make there. Nothing outside
 * src/processors/analysis/ imports anything else of it.
 */
export type { AnalysisState } from "./state.js";

/** The key an issue's analysis is known by (`owner/repo#12`): in its comment's marker and state. */
export const analysisKey = githubKey;

export interface AnalysisRecord {
  /** bg-agent's analysis comment on the issue (the newest, if there are several). */
  comment: ThreadComment;
  /** Its state block for this issue; undefined when it has none readable (was it edited?). */
  state: AnalysisState | undefined;
}

/**
 * bg-agent's analysis comment for issue `issue` among a thread's comments, with its state; null
 * when there is none. Only bg-agent's own comment counts (`ownComments`: the marker first, and
 * written by bg-agent as `selfLogin` says).
 */
export function findAnalysisRecord(
  comments: readonly ThreadComment[],
  repo: string,
  issue: number,
  selfLogin?: string,
): AnalysisRecord | null {
  const key = analysisKey(repo, issue);
  const comment = ownComments(comments, "analysis", key, selfLogin).at(-1);
  if (!comment) return null;
  const state = readAnalysisState(comment.body);
  return { comment, state: state?.key === key ? state : undefined };
}

/**
 * The comment's body with its state asking for a new analysis: the analysed hash cleared and
 * `reanalyse` set, so the next sweep analyses the issue again.
 */
export function withReanalysisRequested(record: {
  comment: ThreadComment;
  state: AnalysisState;
}): string {
  return (record.comment.body ?? "").replace(
    /<!-- bg-agent-state:.*? -->/s,
    stateBlock({ ...record.state, hash: "", reanalyse: true }),
  );
}

import type { ConditionResult } from "../../store/automerge-state.js";

export type MergeMethod = "merge" | "squash" | "rebase";

/** Condition ids, in the order they are evaluated and reported. */
export const CONDITION_IDS = [
  "enabled",
  "open",
  "author",
  "labels",
  "same_repo",
  "head_branch",
  "base_branch",
  "checks_present",
  "checks",
  "approvals",
  "changes_requested",
  "fix_approval",
  "conversations",
  "mergeable",
  "up_to_date",
] as const;
export type ConditionId = (typeof CONDITION_IDS)[number];

/** What a person reads in the check run's table. */
export const CONDITION_LABELS: Record<ConditionId, string> = {
  enabled: "Automerge enabled",
  open: "Open and not a draft",
  author: "Author allowed",
  labels: "Labels",
  same_repo: "Branch in this repository",
  head_branch: "Head branch exists",
  base_branch: "Base branch exists",
  checks_present: "Checks present",
  checks: "Checks successful",
  approvals: "Approvals",
  changes_requested: "No changes requested",
  fix_approval: "bg:fix PR approved by a person",
  conversations: "Conversations resolved",
  mergeable: "Mergeable",
  up_to_date: "Up to date with base",
};

/**
 * How an unmet condition resolves: `wait` resolves by itself (checks finishing, GitHub computing
 * mergeability), `person` needs someone to act (review, label, push), `blocked` will not resolve
 * without a change to the PR itself (fork, deleted branch, timed-out check).
 */
export type ConditionKind = "wait" | "person" | "blocked";

export interface Condition extends ConditionResult {
  id: ConditionId;
  /** Set on unmet conditions. */
  kind?: ConditionKind;
  /** Retry soon (ms from now) for this unmet condition: checks still running, mergeability computing. */
  retryInMs?: number;
}

export interface CheckInfo {
  name: string;
  /** `check` (check run) or `status` (commit status). */
  source: "check" | "status";
  /** pending | success | failure */
  state: "pending" | "success" | "failure";
  /** GitHub's raw status/conclusion, for the detail text. */
  raw: string;
  /** When it started (check run) or was created (status), epoch ms. */
  since: number | null;
}

export interface ReviewInfo {
  login: string;
  isBot: boolean;
  state: "APPROVED" | "CHANGES_REQUESTED" | "DISMISSED" | "COMMENTED" | "PENDING";
  /** From the collaborators permission lookup; null when not looked up. */
  permission: string | null;
}

/** Everything the evaluation needs, read from GitHub (and bg-agent's proposals) alone. */
export interface PullSnapshot {
  repo: string;
  number: number;
  title: string;
  body: string;
  url: string;
  state: "open" | "closed";
  merged: boolean;
  draft: boolean;
  author: { login: string; isBot: boolean };
  labels: string[];
  headSha: string;
  headRef: string;
  /** owner/name of the head repository; null when the fork was deleted. */
  headRepo: string | null;
  baseRef: string;
  /** null: GitHub is still computing. */
  mergeable: boolean | null;
  mergeableState: string;
  /** The rest is read only for candidates (see `candidate`). */
  details?: PullDetails;
}

export interface PullDetails {
  headBranchExists: boolean | null;
  baseBranchExists: boolean;
  /** Required check names from branch protection and rulesets; null when unreadable (403/404/none). */
  requiredChecks: string[] | null;
  requiredChecksSource: string;
  checks: CheckInfo[];
  /** Latest review per reviewer that counts (APPROVED / CHANGES_REQUESTED / DISMISSED). */
  reviews: ReviewInfo[];
  unresolvedThreads: number;
  nodeId: string;
  mergeQueue: { required: boolean; source: string | null };
  inMergeQueue: boolean;
  autoMergeEnabled: boolean;
  allowedMethods: Record<MergeMethod, boolean>;
  /** For bg:fix PRs: the latest merge proposal's status. */
  mergeProposal: string | null;
}

export interface Evaluation {
  snapshot: PullSnapshot;
  conditions: Condition[];
  /** All conditions met. */
  ready: boolean;
  /** False when the PR is not for bg-agent at all (disabled, closed, draft, author/label filter). */
  candidate: boolean;
  firstUnmet: Condition | null;
  method: { method: MergeMethod | null; detail: string };
  /** The merge goes through GitHub's merge queue / native auto-merge. */
  via: "merge" | "merge_queue" | "auto_merge";
}

/**
 * The domain types every layer shares: a task, its status, a run's statuses and an LLM call's
 * usage. Task types and run kinds come from the registry (src/core/task-kinds.ts).
 */
import type { RunKind, TaskType } from "./task-kinds.js";

export type { Mode, RunKind, TaskType } from "./task-kinds.js";
export { MODES, RUN_KINDS, TASK_TYPES } from "./task-kinds.js";

export const TASK_STATUSES = ["pending", "running", "done", "failed", "cancelled"] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export interface Task {
  id: number;
  repo: string;
  type: TaskType;
  /** What the task is about: `pr:12`, `issue:34`, `linear:ENG-1`, `schedule:name`, `comment:99`. */
  source: string;
  dedupKey: string;
  status: TaskStatus;
  priority: number;
  payload: Record<string, unknown>;
  contentHash: string | null;
  attempts: number;
  maxAttempts: number;
  nextRunAt: number;
  leaseOwner: string | null;
  leaseExpiresAt: number | null;
  lastError: string | null;
  result: string | null;
  deliveryId: string | null;
  createdAt: number;
  updatedAt: number;
}

export const RUN_STATUSES = [
  "running",
  "ok",
  "failed",
  "skipped",
  "merged",
  "waiting",
  "changed",
  "unchanged",
  /** Stopped before its next LLM call because people became active (or a pause arrived); runs again later. */
  "preempted",
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** A run as the store keeps it (the dashboard's run history). */
export interface Run {
  id: number;
  repo: string;
  kind: RunKind;
  ref: string | null;
  url: string | null;
  taskId: number | null;
  batchId: number | null;
  status: RunStatus;
  summary: string | null;
  error: string | null;
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
  costUsd: number;
  startedAt: number;
  finishedAt: number | null;
}

/** What LLM calls used and cost. */
export interface Usage {
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
  costUsd: number;
}

/**
 * A runner's results (`POST /bg/api/worker/complete`) applied to the store, inside the request's
 * transaction: each only while the runner holds the task's lease. The done and skipped ones are
 * completed together by one `tasks.completeMany` (one statement on PostgreSQL, whatever their
 * number), the retries and failures one by one as a pass does (their tasks read in one query);
 * the spend of each applied result is recorded up to what the budget had left.
 */
import type { z } from "zod";
import type { Task } from "../core/domain.js";
import type { completeBodySchema } from "../core/wire.js";
import type { StoreParts } from "../store/index.js";
import type { Completion } from "../store/tasks.js";

export type RunnerResult = z.infer<typeof completeBodySchema>["results"][number];

/** Spend a runner reported beyond what the budget had left, and what was recorded instead. */
export type CappedSpend = { taskId: number; reportedUsd: number; recordedUsd: number };

/** What the runner is told of one result: taken or not, and the task's status after. */
export interface AppliedResult {
  taskId: number;
  applied: boolean;
  status: string;
}

/**
 * Applies `results` in `store` (a transaction's handle) for `owner`. `before` is each task as read
 * before the transaction: a done or skipped result is guarded by the completion itself (running,
 * held by `owner`), so only the retries and failures read their tasks again (one query). A task named twice in one
 * body is applied once, for its first result. `allowance` is what the budget has left (used up in
 * the results' order); spend beyond it goes to `capped`.
 */
export async function applyResults(
  store: StoreParts,
  owner: string,
  results: readonly RunnerResult[],
  before: ReadonlyMap<number, Task>,
  allowance: { usd: number },
  capped: CappedSpend[],
  t: number,
): Promise<AppliedResult[]> {
  const first = new Map<number, RunnerResult>();
  for (const r of results) if (!first.has(r.taskId)) first.set(r.taskId, r);
  const after = new Map<number, AppliedResult>();

  const completions: Completion[] = [];
  for (const r of first.values()) {
    if (r.status === "done") completions.push({ id: r.taskId, result: r.result ?? null });
    else if (r.status === "skipped")
      completions.push({ id: r.taskId, result: { skipped: r.error ?? "skipped" } });
  }
  const completed = new Set(await store.tasks.completeMany(completions, owner, t));
  for (const c of completions)
    after.set(
      c.id,
      completed.has(c.id)
        ? { taskId: c.id, applied: true, status: "done" }
        : { taskId: c.id, applied: false, status: before.get(c.id)?.status ?? "unknown" },
    );

  const failures = [...first.values()].filter((r) => r.status === "retry" || r.status === "failed");
  // Read again inside the transaction, all in one query: a failure is applied only to a task held.
  const current = new Map(
    (await store.tasks.getMany(failures.map((r) => r.taskId))).map((x) => [x.id, x]),
  );
  for (const r of failures) {
    const task = current.get(r.taskId);
    // Applied only while this runner holds the lease: a repeat, or a lease lost to another runner, changes nothing.
    if (!task || task.status !== "running" || task.leaseOwner !== owner) {
      after.set(r.taskId, { taskId: r.taskId, applied: false, status: task?.status ?? "unknown" });
      continue;
    }
    const status =
      r.status === "retry"
        ? await store.tasks.fail(
            task.id,
            owner,
            r.error ?? "deferred",
            { retryAt: r.retryAt ?? t + 60_000 },
            t,
          )
        : await store.tasks.fail(
            task.id,
            owner,
            r.error ?? "failed",
            { permanent: r.permanent ?? false },
            t,
          );
    // "running": another runner claimed it between the read and the failure (its lease expired).
    after.set(r.taskId, {
      taskId: r.taskId,
      applied: status !== undefined && status !== "running",
      status: status ?? "unknown",
    });
  }

  for (const r of first.values()) {
    const repo = before.get(r.taskId)?.repo;
    if (!after.get(r.taskId)?.applied || repo === undefined || !r.usage) continue;
    if (r.usage.costUsd + r.usage.promptTokens + r.usage.completionTokens <= 0) continue;
    const costUsd = Math.min(r.usage.costUsd, Math.max(0, allowance.usd));
    allowance.usd -= costUsd;
    if (costUsd < r.usage.costUsd)
      capped.push({ taskId: r.taskId, reportedUsd: r.usage.costUsd, recordedUsd: costUsd });
    await store.spend.add(repo, { ...r.usage, costUsd }, t);
  }

  // In the body's order; a repeat is answered as not applied, with the task's status after.
  const answered = new Set<number>();
  return results.map((r) => {
    const a = after.get(r.taskId)!;
    if (answered.has(r.taskId)) return { taskId: r.taskId, applied: false, status: a.status };
    answered.add(r.taskId);
    return a;
  });
}

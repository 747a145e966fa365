import type { TxStore } from "../store/index.js";
import type { Task } from "../core/domain.js";
import { REQUESTED_PRIORITY } from "../core/paused.js";
import { scheduleSource } from "./sync.js";

/**
 * `/bg run <task>`: queues a run of a declared (or approved) task now, for the person who asked.
 * It runs even while people are active (asking is activity) but not through `/bg pause`; it runs
 * a task paused by failures or done (a success lifts a failure pause); it never runs a task that
 * is only proposed. An already queued run of the task is reused (and marked as requested).
 */
export async function enqueueManualRun(
  store: TxStore,
  repo: string,
  name: string,
  requestedBy: string,
  now = Date.now(),
): Promise<{ ok: true; task: Task; created: boolean } | { ok: false; why: string }> {
  const s = await store.schedules.get(repo, name);
  if (!s) return { ok: false, why: `there is no task named ${name} in .github/bg-agent.yml` };
  if (s.status === "proposed") return { ok: false, why: `${name} is proposed: approve it first` };
  const r = await store.tasks.enqueue(
    {
      repo,
      type: "prompt_task",
      source: scheduleSource(name),
      payload: { name, manual: true, requestedBy },
      priority: REQUESTED_PRIORITY,
      runAt: now,
    },
    now,
  );
  return { ok: true, task: r.task, created: r.outcome === "created" };
}

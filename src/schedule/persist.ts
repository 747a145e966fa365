import type { TaskConfig } from "../config/schema.js";
import type { SavedSchedule } from "../report/run-history.js";
import type { Store } from "../store/index.js";
import { syncSchedules } from "./sync.js";

/**
 * Standalone runs (the Action, the CLI) start with an empty store, so a schedule's state travels
 * in the dashboard issue between runs. Before the pass: the config's tasks are synced into
 * store.schedules (as the prompt-task processor's `prepare` would; its own sync then finds
 * nothing to change) and each row whose definition is unchanged (same spec hash) takes back its
 * saved state: last and next run, run count, result hash, failures and status. A task that is
 * new or was edited starts afresh, as in the app. The processor's `prepare` then dispatches
 * from the restored `nextRunAt`.
 */
export async function restoreSchedules(
  store: Store,
  repo: string,
  tasks: readonly TaskConfig[],
  saved: Record<string, SavedSchedule>,
  now: number,
): Promise<{ restored: string[]; fresh: string[] }> {
  await syncSchedules(store, repo, tasks, now);
  const out = { restored: [] as string[], fresh: [] as string[] };
  await store.tx(async (t) => {
    for (const s of await t.schedules.list(repo)) {
      if (s.origin !== "config") continue;
      const prev = saved[s.name];
      if (!prev || prev.specHash !== s.specHash) {
        out.fresh.push(s.name);
        continue;
      }
      await t.schedules.update(
        s.id,
        {
          status: prev.status,
          statusReason: prev.statusReason,
          lastRunAt: prev.lastRunAt,
          nextRunAt: prev.nextRunAt,
          runCount: prev.runCount,
          lastResultHash: prev.lastResultHash,
          consecutiveFailures: prev.consecutiveFailures,
        },
        now,
      );
      out.restored.push(s.name);
    }
  });
  // `enabled:` edited since the saved state: pause or resume now, as the processor's sync would.
  await syncSchedules(store, repo, tasks, now);
  return out;
}

/** The config tasks' state after the pass, to save in the dashboard issue. */
export async function saveSchedules(
  store: Store,
  repo: string,
): Promise<Record<string, SavedSchedule>> {
  const out: Record<string, SavedSchedule> = {};
  for (const s of await store.schedules.list(repo)) {
    if (s.origin !== "config") continue;
    out[s.name] = {
      specHash: s.specHash,
      status: s.status,
      statusReason: s.statusReason,
      lastRunAt: s.lastRunAt,
      nextRunAt: s.nextRunAt,
      runCount: s.runCount,
      lastResultHash: s.lastResultHash,
      consecutiveFailures: s.consecutiveFailures,
    };
  }
  return out;
}

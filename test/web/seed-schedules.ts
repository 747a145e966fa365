import { parseConfig } from "../../src/config/load.js";
import { syncSchedules } from "../../src/schedule/sync.js";
import type { Store } from "../../src/store/index.js";

const REPO = "acme/api";

/** Prompt tasks in every state: active, paused (config), failed, done, proposed. */
export async function seedSchedules(store: Store, now: number): Promise<Record<string, number>> {
  const cfg = parseConfig({
    tasks: [
      { name: "digest", prompt: "Summarise.", every: "1d" },
      { name: "off", prompt: "x", every: "1d", enabled: false },
    ],
  });
  if (!cfg.ok) throw new Error("bad config");
  await syncSchedules(store, REPO, cfg.config.tasks, now);
  const mk = async (name: string, status: "failed" | "done" | "proposed", reason: string | null) =>
    (
      await store.schedules.create(
        {
          repo: "acme/web",
          name,
          spec: { name, prompt: "p", every: "7d" },
          specHash: name,
          origin: "proposed",
          status,
          statusReason: reason,
          nextRunAt: null,
          maxRuns: null,
        },
        now,
      )
    ).id;
  await mk("broken", "failed", "failed twice in a row: boom");
  await mk("finished", "done", "reached max_runs (2)");
  await mk("idea", "proposed", null);
  const ids = Object.fromEntries((await store.schedules.list()).map((s) => [s.name, s.id]));
  await store.runs.record({
    repo: REPO,
    kind: "prompt_task",
    ref: "task:digest",
    status: "changed",
    summary: "3 new tech-debt issues",
    url: "https://github.com/acme/api/issues/9#issuecomment-1",
    startedAt: now - 60_000,
    finishedAt: now - 50_000,
  });
  await store.runs.record({ repo: REPO, kind: "analysis", ref: "issue:4", status: "ok" });
  return ids;
}

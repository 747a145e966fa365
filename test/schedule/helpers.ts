import type { TaskConfig } from "../../src/config/schema.js";
import { parseConfig } from "../../src/config/load.js";
import type { Store } from "../../src/store/index.js";

export const REPO = "octo/demo";
export const MIN = 60_000;
export const HOUR = 60 * MIN;

/** Milliseconds of an ISO time. */
export const t = (iso: string): number => Date.parse(iso);

/** The validated tasks of a raw `tasks:` list (throws when one is dropped). */
export function tasksOf(raw: unknown[]): TaskConfig[] {
  const r = parseConfig({ tasks: raw });
  if (!r.ok || r.problems.length) throw new Error(`bad test tasks: ${JSON.stringify(r.problems)}`);
  return r.config.tasks;
}

/** Open prompt_task tasks of a repository, by schedule name. */
export const openTaskNames = async (store: Store, repo = REPO): Promise<string[]> =>
  (await store.tasks.list({ repo, type: "prompt_task" }))
    .filter((x) => x.status === "pending" || x.status === "running")
    .map((x) => String(x.payload.name))
    .sort();

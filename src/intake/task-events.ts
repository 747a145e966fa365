import { TASK_EVENT_NAMES } from "../config/events.js";
import { enqueueEventTasks } from "../schedule/event-trigger.js";
import { configForNewWork, rememberRepo, targetOf } from "./common.js";
import type { IntakeDeps, WebhookEvent } from "./types.js";

/** The webhook events an `on:` task may name (src/config/events.ts); app.yml subscribes to each. */
export const TASK_EVENTS: readonly string[] = TASK_EVENT_NAMES;

/**
 * Any delivery of an event an `on:` task may name: queues the matching tasks' runs (debounced,
 * see enqueueEventTasks). Runs after the event's own handler (src/app.ts), whose config read
 * it reuses from the cache.
 */
export async function onTaskEvent(deps: IntakeDeps, event: WebhookEvent): Promise<void> {
  if (!TASK_EVENTS.includes(event.name)) return;
  const t = await targetOf(deps, event);
  if (!t) return;
  // A known-invalid config queues no new work; and a push never makes bg-agent read a config it
  // has not read yet (push handling owns the config's freshness: src/intake/push.ts).
  if (t.known && t.known.configLoadedAt !== null && !t.known.configValid) return;
  if (event.name === "push" && (t.known?.configLoadedAt ?? null) === null) return;
  const config = await configForNewWork(deps, t);
  if (!config || !config.tasks.some((x) => x.on?.[event.name as keyof typeof x.on])) return;
  // No store.tx around awaits (today's transactions are synchronous): the delivery's group
  // commit (src/server.ts) holds these writes with its record.
  await rememberRepo(deps.store, t);
  const queued = await enqueueEventTasks(deps.store, t.repo, config.tasks, event);
  if (!queued.length) return;
  t.log.info(
    { tasks: queued.map((q) => q.name), coalesced: queued.filter((q) => q.coalesced).length },
    "event-triggered tasks queued",
  );
  deps.wake?.();
}

import type { Store } from "../store/index.js";
import { humanSender, targetOf } from "./common.js";
import type { IntakeDeps, WebhookEvent } from "./types.js";

/** Activity windows are minutes long: one write per person and repository per this interval is enough. */
export const ACTIVITY_RESOLUTION_MS = 10_000;

const recent = new WeakMap<Store, Map<string, number>>();

/**
 * Any event a person caused in an installed repository records its last human activity (bots,
 * bg-agent itself included, never count), so LLM work can wait while people are active.
 */
export async function onActivity(
  deps: IntakeDeps,
  event: WebhookEvent,
  now = Date.now(),
): Promise<void> {
  const login = humanSender(deps, event.payload);
  if (!login) return;
  const t = await targetOf(deps, event);
  if (!t) return;
  let seen = recent.get(deps.store);
  if (!seen) recent.set(deps.store, (seen = new Map()));
  const key = `${t.repo.toLowerCase()}|${login}`;
  const last = seen.get(key);
  if (last !== undefined && now - last >= 0 && now - last < ACTIVITY_RESOLUTION_MS) return;
  await deps.store.activity.recordHuman(t.repo, login, now);
  if (seen.size > 10_000) seen.clear();
  seen.set(key, now);
}

import { humanSender, targetOf } from "./common.js";
import type { IntakeDeps, WebhookEvent } from "./types.js";

/**
 * Any event a person caused in an installed repository records its last human activity (bots,
 * bg-agent itself included, never count), so LLM work can wait while people are active.
 */
export async function onActivity(deps: IntakeDeps, event: WebhookEvent): Promise<void> {
  const login = humanSender(deps, event.payload);
  if (!login) return;
  const t = targetOf(deps, event);
  if (!t) return;
  deps.store.activity.recordHuman(t.repo, login);
}

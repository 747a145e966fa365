import type { IntakeDeps, WebhookEvent } from "./types.js";

/**
 * issue_comment: `/bg` commands. Owned by the commands work (src/commands); a stub until then.
 * Human activity is recorded for every event by activity.ts, so nothing is needed here yet.
 */
export async function onIssueComment(_deps: IntakeDeps, _event: WebhookEvent): Promise<void> {}

import type { Store } from "../store/index.js";
import { PRIORITY } from "../core/task-kinds.js";
import type { Task } from "../core/domain.js";
import { hashOf } from "../util/hash.js";
import type { CommandPayload } from "./types.js";

export const commandSource = (commentId: number): string => `comment:${commentId}`;

export type EnqueueCommandResult =
  | { outcome: "queued"; task: Task }
  /** A task for this comment exists already (a redelivery, a sweep after the webhook): acted on once. */
  | { outcome: "duplicate"; task: Task };

/**
 * Queues ONE `command` task for a comment, unless one was ever queued for it: a comment's commands
 * are acted on once, whether it arrives by webhook (twice) or by a sweep.
 */
export async function enqueueCommand(
  store: Store,
  repo: string,
  payload: CommandPayload,
  now = Date.now(),
): Promise<EnqueueCommandResult> {
  const source = commandSource(payload.commentId);
  return await store.tx(async (t) => {
    const seen = await t.tasks.latestBySource(repo, "command", source);
    if (seen) return { outcome: "duplicate", task: seen };
    const r = await t.tasks.enqueue(
      {
        repo,
        type: "command",
        source,
        payload,
        contentHash: hashOf({ comment: payload.commentId }),
        priority: PRIORITY.command,
        deliveryId: payload.deliveryId,
      },
      now,
    );
    return { outcome: "queued", task: r.task };
  });
}

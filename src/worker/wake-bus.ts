/**
 * Wakes that reach every replica (issue #16): work queued on one replica (a webhook, the admin
 * API's wake) is announced on the `wake` channel of the store's coordination (PostgreSQL: NOTIFY
 * `<schema>:wake`), and every other replica's loop runs a pass soon. Both sides are debounced: a
 * burst of deliveries is a few notifications, and a few notifications are one wake. A replica
 * ignores its own announcements (it woke its own loop already). With in-process coordination
 * (SQLite, one process) nobody else listens: today's behaviour.
 */
import type { Logger } from "../log.js";
import type { Coordination } from "../store/coordination.js";
import { errText } from "../util/errors.js";

export const WAKE_CHANNEL = "wake";

export interface WakeBusOptions {
  coordination: Pick<Coordination, "notify" | "listen">;
  /** This replica's id: its own announcements come back and are ignored. */
  self: string;
  /** Wakes this replica's loop; absent on a replica that runs no worker (it only announces). */
  onWake?: (repo: string) => void;
  log: Logger;
  /** At most one notification sent, and one wake made, per this window (ms; default 100). */
  debounceMs?: number;
  /** How long to wait before listening again when the database did not answer (ms; default 5 s). */
  retryMs?: number;
}

export interface WakeBus {
  /** Tells the other replicas that work was queued (for `repo`, when one). Never throws. */
  announce(repo?: string): void;
  /** Notifications sent, and wakes made from others' (metrics, tests). */
  readonly counts: { sent: number; woken: number };
  stop(): Promise<void>;
}

const payloadOf = (raw: string): { from: string; repo: string } | null => {
  try {
    const p = JSON.parse(raw) as { from?: unknown; repo?: unknown };
    return typeof p.from === "string"
      ? { from: p.from, repo: typeof p.repo === "string" ? p.repo : "" }
      : null;
  } catch {
    return null;
  }
};

export async function startWakeBus(o: WakeBusOptions): Promise<WakeBus> {
  const window = o.debounceMs ?? 100;
  const counts = { sent: 0, woken: 0 };
  let stopped = false;
  let unlisten: (() => Promise<void>) | undefined;
  let retry: NodeJS.Timeout | undefined;

  // Sending: the first announcement goes at once; those within the window after it are one more.
  let cooling: NodeJS.Timeout | undefined;
  let pending: string | undefined;
  const send = (repo: string): void => {
    counts.sent++;
    o.coordination
      .notify(WAKE_CHANNEL, JSON.stringify({ from: o.self, repo }))
      .catch((e: unknown) =>
        o.log.warn({ err: errText(e) }, "could not tell the other replicas to wake"),
      );
    cooling = setTimeout(() => {
      cooling = undefined;
      const next = pending;
      pending = undefined;
      if (next !== undefined && !stopped) send(next);
    }, window);
    cooling.unref?.();
  };

  // Receiving: one wake per window, however many replicas announced.
  let waking: NodeJS.Timeout | undefined;
  const heard = (raw: string): void => {
    const p = payloadOf(raw);
    if (!p || p.from === o.self || stopped || waking) return;
    waking = setTimeout(() => {
      waking = undefined;
      if (stopped) return;
      counts.woken++;
      o.log.debug({ repo: p.repo || undefined }, "woken by another replica");
      o.onWake?.(p.repo);
    }, window);
    waking.unref?.();
  };

  const listen = async (): Promise<void> => {
    try {
      unlisten = await o.coordination.listen(WAKE_CHANNEL, heard);
    } catch (e) {
      if (stopped) return;
      o.log.warn(
        { err: errText(e) },
        "cannot hear other replicas' wakes yet (the database did not answer); trying again",
      );
      retry = setTimeout(() => void listen(), o.retryMs ?? 5_000);
      retry.unref?.();
    }
  };
  if (o.onWake) await listen();

  return {
    counts,
    announce(repo = "") {
      if (stopped) return;
      if (cooling) pending = repo;
      else send(repo);
    },
    async stop() {
      stopped = true;
      for (const t of [cooling, waking, retry]) if (t) clearTimeout(t);
      await unlisten?.().catch(() => undefined);
    },
  };
}

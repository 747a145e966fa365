import type { TxGate } from "./async-adapter.js";
import type { IntakeCommit } from "./contract.js";
import type { Db } from "./db.js";

export interface GroupCommitOptions {
  /**
   * How long a finished delivery may wait for deliveries still running to join its commit.
   * 0 (the default): commit at the end of the current event-loop turn, which already groups
   * every delivery that finished in it.
   */
  maxWaitMs?: number;
  /**
   * Makes a commit durable before its deliveries are acknowledged, off the event loop
   * (Db.syncWal with synchronous=NORMAL). Without it the commit's own durability applies.
   */
  sync?: () => Promise<void>;
}

/**
 * Group commit for webhook intake. A commit (an fsync with synchronous=FULL) costs far more than
 * the few rows a delivery writes, so concurrent deliveries share one transaction: each `join()`s
 * before its handlers run (their `store.tx` calls become savepoints inside the group, so a failing
 * handler still rolls back alone), then awaits `commit()`, which resolves once a COMMIT that
 * includes everything it wrote has succeeded (and, with `sync`, was fsynced). The group commits at
 * the end of the event-loop turn in which a delivery finished, or after `maxWaitMs`; with `sync`,
 * one group is in flight at a time: deliveries that finish while the previous group is being
 * fsynced join the open group, which commits when that fsync is done (a commit and an fsync per
 * round, however many deliveries it holds). A failed or lost group rejects every waiter, so none
 * of its deliveries is acknowledged.
 *
 * A group commits while other deliveries may still be awaiting I/O, so a delivery must write
 * nothing before its last await and its record right after its handlers resolve (src/server.ts):
 * then a COMMIT holds all of a delivery or none of it (test/reliability/atomic-delivery.test.ts).
 * Over the async store (src/store/sqlite-store.ts, `gate`), a group never begins or commits
 * while a store transaction is open: it waits for that transaction to end.
 */
export class GroupCommit implements IntakeCommit {
  private open = false;
  private active = 0;
  private waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private readonly maxWaitMs: number;
  private readonly sync: (() => Promise<void>) | undefined;
  /** An fsync of the previous group is running: the open group commits when it is done. */
  private syncing = false;
  /** Commits so far (for tests and metrics). */
  commits = 0;

  private readonly db: Db;
  private readonly gate: TxGate | undefined;
  /** Waiting for the open store transaction to end, to open or commit the group. */
  private deferredOpen = false;
  private deferredFlush = false;

  /** `store`: the database, or an async SQLite store (its transactions gate the COMMIT). */
  constructor(store: Db | { db: Db; gate?: TxGate }, opts: GroupCommitOptions = {}) {
    if ("db" in store) {
      this.db = store.db;
      this.gate = store.gate;
    } else {
      this.db = store;
      this.gate = undefined;
    }
    this.maxWaitMs = opts.maxWaitMs ?? 0;
    this.sync = opts.sync;
  }

  /** A delivery starts: writes from now on join the open group (opened if needed). */
  join(): void {
    this.active++;
    this.ensureOpen();
  }

  /** A delivery that will not commit (it failed): it stops holding the group open. */
  leave(): void {
    this.active = Math.max(0, this.active - 1);
    this.schedule();
  }

  /** A delivery is done writing: resolves once its writes are committed. */
  commit(): Promise<void> {
    this.active = Math.max(0, this.active - 1);
    if (!this.open) return this.sync ? this.sync() : Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.schedule();
    });
  }

  private ensureOpen(): void {
    if (this.open) return;
    if (this.gate?.busy) {
      // A store transaction is open on its own: the group begins when it has committed.
      if (!this.deferredOpen) {
        this.deferredOpen = true;
        this.gate.whenIdle(() => {
          this.deferredOpen = false;
          if (this.active > 0) this.ensureOpen();
        });
      }
      return;
    }
    if (this.db.inTransaction?.()) return; // someone else's transaction: our writes join it as savepoints
    this.db.exec("BEGIN IMMEDIATE");
    this.open = true;
  }

  private schedule(): void {
    if (!this.open) {
      this.release(null);
      return;
    }
    if (!this.waiters.length && this.active > 0) return;
    // One group in flight: while the previous commit is being fsynced, finished deliveries keep
    // joining the open group (a commit per fsync, not per event-loop turn; fewer, larger commits).
    if (this.syncing) return;
    if (this.active === 0 || this.maxWaitMs <= 0) {
      // Everything that finished in this turn of the event loop shares the commit.
      this.immediate ??= setImmediate(() => this.flush());
    } else {
      this.timer ??= setTimeout(() => this.flush(), this.maxWaitMs);
    }
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    if (this.gate?.busy) {
      // Never COMMIT inside a transaction's span: it would hold half of it. Commit as it ends.
      if (!this.deferredFlush) {
        this.deferredFlush = true;
        // Not synchronously as the tx ends: a delivery whose last write waited for that tx
        // writes its record in the microtasks after it, so the COMMIT waits a turn (setImmediate).
        this.gate.whenIdle(() => {
          this.deferredFlush = false;
          this.immediate ??= setImmediate(() => this.flush());
        });
      }
      return;
    }
    if (!this.open) {
      this.release(null);
      return;
    }
    this.open = false;
    let error: Error | null = null;
    let committed = false;
    if (this.db.inTransaction && !this.db.inTransaction()) {
      // SQLite rolled the group back (I/O error, disk full): nothing of it is durable.
      error = new Error(
        "the intake transaction was rolled back by SQLite; deliveries not acknowledged",
      );
    } else {
      try {
        this.db.exec("COMMIT");
        this.commits++;
        committed = true;
      } catch (e) {
        error = e instanceof Error ? e : new Error(String(e));
        try {
          if (this.db.inTransaction?.() ?? true) this.db.exec("ROLLBACK");
        } catch {
          // already rolled back
        }
      }
    }
    const waiters = this.waiters;
    this.waiters = [];
    if (committed && this.sync) {
      // The fsync runs on libuv's pool while the next group fills; that group commits after it.
      this.syncing = true;
      const done = (error: Error | null): void => {
        this.syncing = false;
        this.settle(waiters, error);
        if (this.waiters.length) this.schedule();
      };
      this.sync().then(
        () => done(null),
        (e: unknown) => done(e instanceof Error ? e : new Error(String(e))),
      );
    } else {
      this.settle(waiters, error);
    }
    // Deliveries still running keep writing: give them a new group.
    if (this.active > 0) this.ensureOpen();
  }

  private release(error: Error | null): void {
    const waiters = this.waiters;
    this.waiters = [];
    this.settle(waiters, error);
  }

  private settle(
    waiters: { resolve: () => void; reject: (e: Error) => void }[],
    error: Error | null,
  ): void {
    for (const w of waiters) {
      if (error) w.reject(error);
      else w.resolve();
    }
  }

  /** Commits whatever is open now (shutdown). */
  close(): void {
    this.active = 0;
    this.flush();
  }
}

/** The intake commit of a store without a group commit: each delivery's transaction commits alone. */
export function soloCommit(): IntakeCommit {
  return {
    commits: 0,
    join() {},
    leave() {},
    commit() {
      this.commits++;
      return Promise.resolve();
    },
    close() {},
  };
}

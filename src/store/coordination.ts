/**
 * Coordination between app replicas (issue #16): at most one pass per repository at a time, and
 * a wake on one replica heard by all. In-process for SQLite (one process); PostgreSQL's advisory
 * locks and LISTEN/NOTIFY in src/store/postgres/pg-coordination.ts. Not wired into the app yet.
 */
export interface RepoLock {
  release(): Promise<void>;
}

export interface Coordination {
  /** Takes the repository's lock now, or null when another pass (any replica) holds it. */
  tryRepoLock(repo: string): Promise<RepoLock | null>;
  /** Runs `fn` holding the repository's lock, waiting for it if needed. */
  withRepoLock<R>(repo: string, fn: () => Promise<R>): Promise<R>;
  notify(channel: string, payload: string): Promise<void>;
  /** Calls `cb` for each notification on `channel`; resolves to an unsubscribe. */
  listen(channel: string, cb: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/** One process: locks in a map (repository names case-insensitive), notifications to local listeners. */
export class InProcessCoordination implements Coordination {
  private readonly held = new Map<string, Promise<void>>();
  private readonly listeners = new Map<string, Set<(payload: string) => void>>();

  async tryRepoLock(repo: string): Promise<RepoLock | null> {
    const key = repo.toLowerCase();
    if (this.held.has(key)) return null;
    let done!: () => void;
    this.held.set(key, new Promise<void>((r) => (done = r)));
    return {
      release: async () => {
        this.held.delete(key);
        done();
      },
    };
  }

  async withRepoLock<R>(repo: string, fn: () => Promise<R>): Promise<R> {
    let lock: RepoLock | null;
    while (!(lock = await this.tryRepoLock(repo))) await this.held.get(repo.toLowerCase());
    try {
      return await fn();
    } finally {
      await lock.release();
    }
  }

  async notify(channel: string, payload: string): Promise<void> {
    for (const cb of this.listeners.get(channel) ?? []) queueMicrotask(() => cb(payload));
  }

  async listen(channel: string, cb: (payload: string) => void): Promise<() => Promise<void>> {
    const set = this.listeners.get(channel) ?? new Set();
    set.add(cb);
    this.listeners.set(channel, set);
    return async () => {
      set.delete(cb);
    };
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}

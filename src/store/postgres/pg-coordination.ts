import pg from "pg";
import type { Pool, PoolClient } from "pg";
import type { Coordination, RepoLock } from "../coordination.js";
import type { PostgresOptions } from "./index.js";
import { checkSchemaName } from "./index.js";

/**
 * Replicas on one PostgreSQL: a repository lock is a session advisory lock
 * (`pg_try_advisory_lock(hashtext(schema), hashtext(lower(repo)))`) held on its own connection
 * from a small pool, so it ends with that connection if the replica dies. Notifications use
 * `pg_notify` and one dedicated LISTEN connection that reconnects (and listens again) when dropped.
 * Channels are prefixed with the schema, so two deployments on one database do not hear each other.
 */
export class PgCoordination implements Coordination {
  private readonly locks: Pool;
  private listener: pg.Client | null = null;
  private connecting: Promise<pg.Client> | null = null;
  private readonly listeners = new Map<string, Set<(payload: string) => void>>();
  private closed = false;
  private readonly schema: string;

  constructor(private readonly o: PostgresOptions & { lockPoolSize?: number }) {
    this.schema = checkSchemaName(o.schema ?? "public");
    // A database that does not answer fails a lock (the pass skips the repository) instead of hanging it.
    this.locks = new pg.Pool({
      connectionString: o.url,
      max: o.lockPoolSize ?? 16,
      connectionTimeoutMillis: 10_000,
      application_name: "bg-agent coordination",
    });
    this.locks.on("error", () => {});
  }

  private channel(name: string): string {
    return `${this.schema}:${name}`;
  }

  private async lock(repo: string, wait: boolean): Promise<RepoLock | null> {
    const client: PoolClient = await this.locks.connect();
    const args = [`bg-agent:${this.schema}`, repo.toLowerCase()];
    try {
      if (wait) {
        await client.query("SELECT pg_advisory_lock(hashtext($1), hashtext($2))", args);
      } else {
        const r = await client.query<{ ok: boolean }>(
          "SELECT pg_try_advisory_lock(hashtext($1), hashtext($2)) AS ok",
          args,
        );
        if (!r.rows[0]?.ok) {
          client.release();
          return null;
        }
      }
    } catch (e) {
      client.release(e instanceof Error ? e : undefined);
      throw e;
    }
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        try {
          await client.query("SELECT pg_advisory_unlock(hashtext($1), hashtext($2))", args);
          client.release();
        } catch (e) {
          client.release(e instanceof Error ? e : new Error(String(e)));
        }
      },
    };
  }

  tryRepoLock(repo: string): Promise<RepoLock | null> {
    return this.lock(repo, false);
  }

  async withRepoLock<R>(repo: string, fn: () => Promise<R>): Promise<R> {
    const lock = (await this.lock(repo, true))!;
    try {
      return await fn();
    } finally {
      await lock.release();
    }
  }

  async notify(channel: string, payload: string): Promise<void> {
    await this.locks.query("SELECT pg_notify($1, $2)", [this.channel(channel), payload]);
  }

  private connect(): Promise<pg.Client> {
    if (this.listener) return Promise.resolve(this.listener);
    return (this.connecting ??= (async () => {
      const c = new pg.Client({ connectionString: this.o.url });
      c.on("notification", (m) => {
        const name = m.channel.startsWith(`${this.schema}:`)
          ? m.channel.slice(this.schema.length + 1)
          : m.channel;
        for (const cb of this.listeners.get(name) ?? []) cb(m.payload ?? "");
      });
      const lost = () => {
        if (this.listener !== c) return;
        this.listener = null;
        if (!this.closed && this.listeners.size) setTimeout(() => void this.reconnect(), 500);
      };
      c.on("error", lost);
      c.on("end", lost);
      try {
        await c.connect();
        for (const name of this.listeners.keys()) await c.query(`LISTEN "${this.channel(name)}"`);
        this.listener = c;
        return c;
      } finally {
        this.connecting = null;
      }
    })());
  }

  private async reconnect(): Promise<void> {
    if (this.closed || this.listener) return;
    try {
      await this.connect();
    } catch {
      if (!this.closed) setTimeout(() => void this.reconnect(), 1000);
    }
  }

  async listen(channel: string, cb: (payload: string) => void): Promise<() => Promise<void>> {
    const set = this.listeners.get(channel) ?? new Set();
    const first = set.size === 0;
    set.add(cb);
    this.listeners.set(channel, set);
    const c = await this.connect();
    if (first) await c.query(`LISTEN "${this.channel(channel)}"`);
    return async () => {
      set.delete(cb);
      if (!set.size) {
        this.listeners.delete(channel);
        await this.listener?.query(`UNLISTEN "${this.channel(channel)}"`).catch(() => {});
      }
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    const c = this.listener;
    this.listener = null;
    await c?.end().catch(() => {});
    await this.locks.end();
  }
}

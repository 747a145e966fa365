import type { Db } from "./db.js";

/**
 * Dashboard sessions that were signed out before they expired (src/web/session.ts). A session
 * cookie is a signed JWT that needs no storage while it is valid; signing out writes its id here
 * until it would have expired anyway, so every replica on the same database refuses it.
 */
export class SessionRevocationStore {
  constructor(private readonly db: Db) {}

  /** Refuses session `sid` from now on (until `expiresAt`, epoch ms); forgets expired entries. */
  revoke(r: { sid: string; login: string; expiresAt: number }, now = Date.now()): void {
    this.db.transaction(() => {
      this.db.prepare("DELETE FROM session_revocations WHERE expires_at <= ?").run(now);
      this.db
        .prepare(
          `INSERT INTO session_revocations (sid, login, expires_at, revoked_at) VALUES (?, ?, ?, ?)
           ON CONFLICT (sid) DO NOTHING`,
        )
        .run(r.sid, r.login, r.expiresAt, now);
    })();
  }

  /** Whether session `sid` was signed out (and has not expired since). */
  isRevoked(sid: string, now = Date.now()): boolean {
    return (
      this.db
        .prepare("SELECT 1 FROM session_revocations WHERE sid = ? AND expires_at > ?")
        .get(sid, now) !== undefined
    );
  }

  /** Forgets entries of sessions that have expired anyway; returns how many. */
  prune(now = Date.now()): number {
    return this.db.prepare("DELETE FROM session_revocations WHERE expires_at <= ?").run(now)
      .changes;
  }
}

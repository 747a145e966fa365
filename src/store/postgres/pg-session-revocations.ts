import type { Exec } from "./pg-exec.js";
import type { Async } from "../contract.js";
import type { SessionRevocationStore } from "../session-revocations.js";

export class PgSessionRevocationStore implements Async<SessionRevocationStore> {
  constructor(private readonly x: Exec) {}

  async revoke(
    r: { sid: string; login: string; expiresAt: number },
    now = Date.now(),
  ): Promise<void> {
    await this.x.tx(async (t) => {
      await t.run("DELETE FROM session_revocations WHERE expires_at <= ?", [now]);
      await t.run(
        `INSERT INTO session_revocations (sid, login, expires_at, revoked_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (sid) DO NOTHING`,
        [r.sid, r.login, r.expiresAt, now],
      );
    });
  }

  async isRevoked(sid: string, now = Date.now()): Promise<boolean> {
    return (
      (await this.x.get(
        "SELECT 1 AS one FROM session_revocations WHERE sid = ? AND expires_at > ?",
        [sid, now],
      )) !== undefined
    );
  }

  async prune(now = Date.now()): Promise<number> {
    return this.x.run("DELETE FROM session_revocations WHERE expires_at <= ?", [now]);
  }
}

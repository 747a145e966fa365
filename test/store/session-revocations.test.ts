import { describe, expect, it } from "vitest";
import { createStore } from "../../src/store/index.js";
import { openSqlJs } from "../../src/store/sqljs.js";
import { memoryStore } from "../helpers/store.js";

const NOW = Date.parse("2026-11-22T12:00:00Z");
const HOUR = 3_600_000;

describe.each([
  ["better-sqlite3", memoryStore],
  ["sql.js", async () => createStore(await openSqlJs())],
] as const)("signed-out dashboard sessions on %s", (_name, open) => {
  it("refuses a signed-out session until it would have expired, then forgets it", async () => {
    const store = await open();
    try {
      const r = store.sessions;
      expect(await r.isRevoked("sid-aaaaaaaaaaaaaaaa", NOW)).toBe(false);
      await r.revoke({ sid: "sid-aaaaaaaaaaaaaaaa", login: "octocat", expiresAt: NOW + HOUR }, NOW);
      // Signing out twice (two tabs) is fine.
      await r.revoke({ sid: "sid-aaaaaaaaaaaaaaaa", login: "octocat", expiresAt: NOW + HOUR }, NOW);
      expect(await r.isRevoked("sid-aaaaaaaaaaaaaaaa", NOW + HOUR - 1)).toBe(true);
      expect(await r.isRevoked("sid-bbbbbbbbbbbbbbbb", NOW)).toBe(false);
      // Past its expiry the cookie is refused anyway: the entry no longer counts...
      expect(await r.isRevoked("sid-aaaaaaaaaaaaaaaa", NOW + HOUR)).toBe(false);
      // ...and the next sign-out removes it, so the table stays as small as the live sessions.
      await r.revoke(
        { sid: "sid-cccccccccccccccc", login: "hubot", expiresAt: NOW + 3 * HOUR },
        NOW + 2 * HOUR,
      );
      expect(await r.prune(NOW + 2 * HOUR)).toBe(0);
      expect(await r.isRevoked("sid-cccccccccccccccc", NOW + 2 * HOUR)).toBe(true);
      expect(await r.prune(NOW + 3 * HOUR)).toBe(1);
    } finally {
      await store.close();
    }
  });
});

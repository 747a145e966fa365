/**
 * bench/session-cookie: what the session check costs per dashboard/admin API request, now that a
 * session is a jose HS256 JWT plus a revocation lookup in the store (session_revocations), next
 * to the previous hand-written HMAC cookie (reimplemented here, for comparison only).
 * Prints a table and writes bench/results/session-cookie.json. Run: npx tsx bench/session-cookie.ts
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { performance } from "node:perf_hooks";
import { createStore } from "../src/store/index.js";
import { openSqlite } from "../src/store/db.js";
import { createSessions } from "../src/web/session.js";

const N = 20_000;
const SECRET = "bench-secret-0123456789abcdef0123456789";
const store = createStore(await openSqlite({ path: ":memory:" }));
const now = Date.now();
// A realistic revocation table: 1,000 signed-out, unexpired sessions.
for (let i = 0; i < 1000; i++)
  await store.sessions.revoke(
    { sid: randomBytes(18).toString("base64url"), login: "u", expiresAt: now + 3_600_000 },
    now,
  );
const fakeReq = (cookie: string): IncomingMessage =>
  ({ headers: { cookie, host: "127.0.0.1" }, socket: {} }) as IncomingMessage;

const sessions = createSessions({
  secret: SECRET,
  ttlMs: 8 * 3_600_000,
  revocations: store.sessions,
});
const { setCookie } = await sessions.issue(fakeReq(""), { login: "octocat", id: 583231 });
const req = fakeReq(setCookie.split(";")[0]!);

// The previous format: base64url(JSON) "." HMAC-SHA256, and an in-memory revocation Map.
const revoked = new Map<string, number>();
const mac = (body: string) =>
  createHmac("sha256", SECRET).update(`session.${body}`).digest("base64url");
const body = Buffer.from(
  JSON.stringify({
    login: "octocat",
    sid: randomBytes(18).toString("base64url"),
    iat: now,
    exp: now + 1e7,
  }),
).toString("base64url");
const legacy = `${body}.${mac(body)}`;
const legacyRead = (v: string): unknown => {
  const dot = v.indexOf(".");
  const b = v.slice(0, dot);
  const x = Buffer.from(v.slice(dot + 1));
  const y = Buffer.from(mac(b));
  if (x.length !== y.length || !timingSafeEqual(x, y)) return null;
  const p = JSON.parse(Buffer.from(b, "base64url").toString()) as { sid: string; exp: number };
  return p.exp > Date.now() && !revoked.has(p.sid) ? p : null;
};

async function time(name: string, fn: () => unknown): Promise<{ name: string; usPerOp: number }> {
  for (let i = 0; i < 500; i++) await fn();
  const t = performance.now();
  for (let i = 0; i < N; i++) await fn();
  return { name, usPerOp: ((performance.now() - t) * 1000) / N };
}

const rows = [
  await time("previous: HMAC cookie, in-memory revocations", () => legacyRead(legacy)),
  await time("jose HS256 verify + store revocation lookup (read)", async () => {
    if (!(await sessions.read(req))) throw new Error("the session should be valid");
  }),
  await time("jose HS256 sign (issue, once per sign-in)", () =>
    sessions.issue(req, { login: "octocat", id: 1 }),
  ),
  await time(
    "store revocation lookup alone",
    async () => await store.sessions.isRevoked("nope", now),
  ),
];
console.log(`${"operation".padEnd(54)} µs/op`);
for (const r of rows) console.log(`${r.name.padEnd(54)} ${r.usPerOp.toFixed(1)}`);
mkdirSync("bench/results", { recursive: true });
writeFileSync(
  "bench/results/session-cookie.json",
  `${JSON.stringify({ iterations: N, node: process.version, rows }, null, 2)}\n`,
);
await store.close();

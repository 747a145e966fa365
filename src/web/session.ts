import { createHmac, hkdfSync, randomBytes, timingSafeEqual, webcrypto } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { jwtVerify, SignJWT } from "jose";
import { z } from "zod";

/**
 * Dashboard sessions after a GitHub sign-in: HS256-signed JWTs (jose) in HttpOnly cookies.
 *
 * A session cookie is a JWT with the GitHub login (`login`) and user id (`sub`), a random
 * session id (`jti`), its issue time (`iat`) and expiry (`exp`): never a GitHub token. The
 * OAuth `state` cookie is a JWT too. Each purpose has its own key, derived from
 * BG_SESSION_SECRET with HKDF, and its own audience, so a value made for one use is worthless
 * for another. The CSRF value the page must send with POSTs is an HMAC of the session id (a
 * third derived key), so it needs no storage and dies with the session.
 *
 * Cookies are stateless while valid; signing out records the session id in the store until it
 * would have expired (`store.sessions`), so every replica sharing the database refuses it.
 */

export const SESSION_COOKIE = "bg_session";
export const STATE_COOKIE = "bg_oauth_state";
/** The header the page sends on state-changing calls made with a session cookie. */
export const CSRF_HEADER = "x-bg-csrf";

export interface Session {
  login: string;
  /** The GitHub user id. */
  userId: number;
  /** Random per sign-in; the CSRF value is derived from it, sign-out revokes it. */
  sid: string;
  /** Issued at / expires at, epoch ms (whole seconds: a JWT counts in seconds). */
  iat: number;
  exp: number;
}

/** Where signed-out session ids are kept: the store's `sessions` part (shared by replicas). */
export interface RevocationList {
  revoke(r: { sid: string; login: string; expiresAt: number }, now: number): unknown;
  isRevoked(sid: string, now: number): boolean | Promise<boolean>;
}

const ISSUER = "bg-agent";
const SESSION_AUDIENCE = "bg-agent:dashboard-session";
const STATE_AUDIENCE = "bg-agent:oauth-state";
/** Longer values are refused unread (a cookie is at most 4 KB anyway). */
const MAX_COOKIE = 4096;

const sessionClaims = z.object({
  login: z.string().min(1).max(100),
  sub: z.string().regex(/^\d{1,20}$/),
  jti: z.string().min(16).max(64),
  iat: z.number().int(),
  exp: z.number().int(),
});
const stateClaims = z.object({ state: z.string().min(16).max(128), exp: z.number().int() });

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A 256-bit key for one purpose, derived from the session secret. */
const deriveKey = (secret: string, purpose: string): Uint8Array =>
  new Uint8Array(hkdfSync("sha256", secret, "bg-agent", `bg-agent ${purpose} v2`, 32));

type HmacKey = webcrypto.CryptoKey;
/** The key as a WebCrypto HMAC key, imported once (jose would import raw bytes on every call). */
const hmacKey = (raw: Uint8Array): Promise<HmacKey> =>
  webcrypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
    "verify",
  ]);

/** Cookies of a request, by name (the first of duplicates wins). */
export function readCookies(req: IncomingMessage): Map<string, string> {
  const out = new Map<string, string>();
  const header = req.headers.cookie;
  if (!header) return out;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (!out.has(name)) out.set(name, value);
  }
  return out;
}

const LOCAL_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);

/**
 * Whether cookies may go without `Secure`: only for plain http on this machine (local
 * development). Everywhere else they are Secure, which is what a deployment behind https wants.
 */
export function isLocalHttp(req: IncomingMessage): boolean {
  const forwarded = String(req.headers["x-forwarded-proto"] ?? "")
    .split(",")[0]!
    .trim()
    .toLowerCase();
  const tls =
    "encrypted" in req.socket && Boolean((req.socket as { encrypted?: boolean }).encrypted);
  if (tls || forwarded === "https") return false;
  const host = (req.headers.host ?? "").toLowerCase();
  const name = host.startsWith("[") ? host.slice(0, host.indexOf("]") + 1) : host.split(":")[0]!;
  return LOCAL_HOSTS.has(name);
}

export function cookie(
  name: string,
  value: string,
  o: { path: string; maxAgeSeconds: number; secure: boolean },
): string {
  return [
    `${name}=${value}`,
    `Path=${o.path}`,
    `Max-Age=${Math.max(0, Math.floor(o.maxAgeSeconds))}`,
    "HttpOnly",
    "SameSite=Lax",
    ...(o.secure ? ["Secure"] : []),
  ].join("; ");
}

export interface SessionsOptions {
  /** BG_SESSION_SECRET (at least 32 characters). */
  secret: string;
  /** How long a sign-in lasts (ms). */
  ttlMs: number;
  /** Signed-out sessions: `store.sessions`, shared by every replica on the database. */
  revocations: RevocationList;
  /** Always mark cookies Secure (BG_PUBLIC_URL is https), whatever the request looks like. */
  alwaysSecure?: boolean;
  now?: () => number;
}

export interface Sessions {
  /** A new session for this GitHub user and the Set-Cookie header that carries it. */
  issue(
    req: IncomingMessage,
    user: { login: string; id: number },
  ): Promise<{ session: Session; setCookie: string }>;
  /** The valid, unexpired, not signed-out session of the request, if any. */
  read(req: IncomingMessage): Promise<Session | null>;
  /** Whether the request carries a session cookie at all (valid or not). */
  hasCookie(req: IncomingMessage): boolean;
  /** A Set-Cookie header that deletes the session cookie. */
  clear(req: IncomingMessage): string;
  /** Ends a session (sign-out): its cookie is refused from now on, by every replica, even if kept. */
  revoke(session: Session): Promise<void>;
  /** The CSRF value bound to a session: the page sends it in `x-bg-csrf`. */
  csrfFor(session: Session): string;
  checkCsrf(req: IncomingMessage, session: Session): boolean;
  /** The OAuth `state` for a sign-in: a random value and its signed, short-lived cookie. */
  newState(req: IncomingMessage): Promise<{ state: string; setCookie: string }>;
  /** Checks the callback's `state` against the browser's state cookie (signature, expiry, value). */
  checkState(req: IncomingMessage, state: string | null): Promise<boolean>;
  clearState(req: IncomingMessage): string;
}

const STATE_TTL_MS = 10 * 60_000;
const SESSION_PATH = "/bg";
const STATE_PATH = "/bg/oauth";

/** The verified claims of a JWT made by `createSessions` for `audience`, or null. */
async function verified(
  raw: string | undefined,
  key: Promise<HmacKey>,
  audience: string,
  at: number,
): Promise<Record<string, unknown> | null> {
  if (!raw || raw.length > MAX_COOKIE) return null;
  try {
    const { payload } = await jwtVerify(raw, await key, {
      algorithms: ["HS256"],
      issuer: ISSUER,
      audience,
      typ: "JWT",
      currentDate: new Date(at),
      requiredClaims: ["exp", "iat"],
    });
    return payload;
  } catch {
    // A wrong signature, algorithm, audience or shape, or an expired value: all just "no".
    return null;
  }
}

export function createSessions(o: SessionsOptions): Sessions {
  if (o.secret.length < 32) throw new Error("the session secret must be at least 32 characters");
  const sessionKey = hmacKey(deriveKey(o.secret, "dashboard-session"));
  const stateKey = hmacKey(deriveKey(o.secret, "oauth-state"));
  const csrfKey = deriveKey(o.secret, "csrf");
  const now = o.now ?? Date.now;
  const ttlSeconds = Math.max(1, Math.round(o.ttlMs / 1000));
  const csrfFor = (s: Session): string =>
    createHmac("sha256", csrfKey).update(s.sid).digest("base64url");
  const secure = (req: IncomingMessage): boolean => Boolean(o.alwaysSecure) || !isLocalHttp(req);
  const sign = (claims: Record<string, unknown>, audience: string): SignJWT =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setIssuer(ISSUER)
      .setAudience(audience);

  return {
    async issue(req, user) {
      const iat = Math.floor(now() / 1000);
      const session: Session = {
        login: user.login,
        userId: user.id,
        sid: randomBytes(18).toString("base64url"),
        iat: iat * 1000,
        exp: (iat + ttlSeconds) * 1000,
      };
      const jwt = await sign({ login: user.login }, SESSION_AUDIENCE)
        .setSubject(String(user.id))
        .setJti(session.sid)
        .setIssuedAt(iat)
        .setExpirationTime(iat + ttlSeconds)
        .sign(await sessionKey);
      return {
        session,
        setCookie: cookie(SESSION_COOKIE, jwt, {
          path: SESSION_PATH,
          maxAgeSeconds: ttlSeconds,
          secure: secure(req),
        }),
      };
    },
    async read(req) {
      const t = now();
      const claims = sessionClaims.safeParse(
        await verified(readCookies(req).get(SESSION_COOKIE), sessionKey, SESSION_AUDIENCE, t),
      );
      if (!claims.success) return null;
      const c = claims.data;
      if (await o.revocations.isRevoked(c.jti, t)) return null;
      return {
        login: c.login,
        userId: Number(c.sub),
        sid: c.jti,
        iat: c.iat * 1000,
        exp: c.exp * 1000,
      };
    },
    hasCookie: (req) => readCookies(req).has(SESSION_COOKIE),
    clear: (req) =>
      cookie(SESSION_COOKIE, "", {
        path: SESSION_PATH,
        maxAgeSeconds: 0,
        secure: secure(req),
      }),
    async revoke(session) {
      await o.revocations.revoke(
        { sid: session.sid, login: session.login, expiresAt: session.exp },
        now(),
      );
    },
    csrfFor,
    checkCsrf(req, session) {
      const sent = req.headers[CSRF_HEADER];
      return typeof sent === "string" && safeEqual(sent, csrfFor(session));
    },
    async newState(req) {
      const state = randomBytes(24).toString("base64url");
      const iat = Math.floor(now() / 1000);
      const jwt = await sign({ state }, STATE_AUDIENCE)
        .setIssuedAt(iat)
        .setExpirationTime(iat + STATE_TTL_MS / 1000)
        .sign(await stateKey);
      return {
        state,
        setCookie: cookie(STATE_COOKIE, jwt, {
          path: STATE_PATH,
          maxAgeSeconds: STATE_TTL_MS / 1000,
          secure: secure(req),
        }),
      };
    },
    async checkState(req, state) {
      if (!state) return false;
      const claims = stateClaims.safeParse(
        await verified(readCookies(req).get(STATE_COOKIE), stateKey, STATE_AUDIENCE, now()),
      );
      return claims.success && safeEqual(claims.data.state, state);
    },
    clearState: (req) =>
      cookie(STATE_COOKIE, "", { path: STATE_PATH, maxAgeSeconds: 0, secure: secure(req) }),
  };
}

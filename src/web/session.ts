import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { z } from "zod";

/**
 * Dashboard sessions after a GitHub sign-in: stateless, HMAC-SHA256-signed cookies.
 *
 * A signed value is `base64url(JSON payload) "." base64url(HMAC(secret, purpose "." payload))`.
 * The purpose ("session", "state", "csrf") is part of what is signed, so a value made for one
 * use is worthless for another. A session holds the GitHub login, a random id and its expiry:
 * never a GitHub token. The CSRF value the page must send with POSTs is derived from the
 * session id (HMAC again), so it needs no storage and dies with the session.
 */

export const SESSION_COOKIE = "bg_session";
export const STATE_COOKIE = "bg_oauth_state";
/** The header the page sends on state-changing calls made with a session cookie. */
export const CSRF_HEADER = "x-bg-csrf";

export interface Session {
  login: string;
  /** Random per sign-in; the CSRF value is derived from it. */
  sid: string;
  /** Issued at / expires at, epoch ms. */
  iat: number;
  exp: number;
}

const sessionSchema = z.object({
  login: z.string().min(1).max(100),
  sid: z.string().min(16).max(64),
  iat: z.number().int(),
  exp: z.number().int(),
});
const stateSchema = z.object({ state: z.string().min(16).max(128), exp: z.number().int() });

const b64url = (b: Buffer | string): string => Buffer.from(b).toString("base64url");

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class Signer {
  constructor(private readonly secret: string) {}

  private mac(purpose: string, body: string): string {
    return createHmac("sha256", this.secret).update(`${purpose}.${body}`).digest("base64url");
  }

  sign(purpose: string, payload: unknown): string {
    const body = b64url(JSON.stringify(payload));
    return `${body}.${this.mac(purpose, body)}`;
  }

  /** The payload when the signature is right (compared in constant time); otherwise undefined. */
  verify(purpose: string, value: string): unknown {
    const dot = value.indexOf(".");
    if (dot <= 0 || value.length > 4096) return undefined;
    const body = value.slice(0, dot);
    if (!safeEqual(value.slice(dot + 1), this.mac(purpose, body))) return undefined;
    try {
      return JSON.parse(Buffer.from(body, "base64url").toString("utf8")) as unknown;
    } catch {
      return undefined;
    }
  }

  /** A value derived from `data` for `purpose` (the CSRF value of a session). */
  derive(purpose: string, data: string): string {
    return this.mac(purpose, b64url(data));
  }
}

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
  /** Always mark cookies Secure (BG_PUBLIC_URL is https), whatever the request looks like. */
  alwaysSecure?: boolean;
  now?: () => number;
}

export interface Sessions {
  /** A new session for `login` and the Set-Cookie header that carries it. */
  issue(req: IncomingMessage, login: string): { session: Session; setCookie: string };
  /** The valid, unexpired session of the request, if any. */
  read(req: IncomingMessage): Session | null;
  /** Whether the request carries a session cookie at all (valid or not). */
  hasCookie(req: IncomingMessage): boolean;
  /** A Set-Cookie header that deletes the session cookie. */
  clear(req: IncomingMessage): string;
  /** Ends a session in this process (sign-out): its cookie is refused from now on, even if kept. */
  revoke(session: Session): void;
  /** The CSRF value bound to a session: the page sends it in `x-bg-csrf`. */
  csrfFor(session: Session): string;
  checkCsrf(req: IncomingMessage, session: Session): boolean;
  /** The OAuth `state` for a sign-in: a random value and its signed, short-lived cookie. */
  newState(req: IncomingMessage): { state: string; setCookie: string };
  /** Checks the callback's `state` against the browser's state cookie (signature, expiry, value). */
  checkState(req: IncomingMessage, state: string | null): boolean;
  clearState(req: IncomingMessage): string;
}

const STATE_TTL_MS = 10 * 60_000;
const SESSION_PATH = "/bg";
const STATE_PATH = "/bg/oauth";

export function createSessions(o: SessionsOptions): Sessions {
  if (o.secret.length < 32) throw new Error("the session secret must be at least 32 characters");
  const signer = new Signer(o.secret);
  const now = o.now ?? Date.now;
  const csrfFor = (s: Session): string => signer.derive("csrf", s.sid);
  const secure = (req: IncomingMessage): boolean => Boolean(o.alwaysSecure) || !isLocalHttp(req);
  // Signed-out session ids until they would have expired anyway (in memory: a restart forgets
  // them, which the cookie's own expiry bounds).
  const revoked = new Map<string, number>();
  const prune = (): void => {
    const t = now();
    for (const [sid, exp] of revoked) if (exp <= t) revoked.delete(sid);
  };
  return {
    issue(req, login) {
      const t = now();
      const session: Session = {
        login,
        sid: randomBytes(18).toString("base64url"),
        iat: t,
        exp: t + o.ttlMs,
      };
      return {
        session,
        setCookie: cookie(SESSION_COOKIE, signer.sign("session", session), {
          path: SESSION_PATH,
          maxAgeSeconds: o.ttlMs / 1000,
          secure: secure(req),
        }),
      };
    },
    read(req) {
      const raw = readCookies(req).get(SESSION_COOKIE);
      if (!raw) return null;
      const parsed = sessionSchema.safeParse(signer.verify("session", raw));
      if (!parsed.success || parsed.data.exp <= now() || revoked.has(parsed.data.sid)) return null;
      return parsed.data;
    },
    hasCookie: (req) => readCookies(req).has(SESSION_COOKIE),
    clear: (req) =>
      cookie(SESSION_COOKIE, "", {
        path: SESSION_PATH,
        maxAgeSeconds: 0,
        secure: secure(req),
      }),
    revoke(session) {
      prune();
      if (revoked.size < 100_000) revoked.set(session.sid, session.exp);
    },
    csrfFor,
    checkCsrf(req, session) {
      const sent = req.headers[CSRF_HEADER];
      return typeof sent === "string" && safeEqual(sent, csrfFor(session));
    },
    newState(req) {
      const state = randomBytes(24).toString("base64url");
      return {
        state,
        setCookie: cookie(
          STATE_COOKIE,
          signer.sign("state", { state, exp: now() + STATE_TTL_MS }),
          {
            path: STATE_PATH,
            maxAgeSeconds: STATE_TTL_MS / 1000,
            secure: secure(req),
          },
        ),
      };
    },
    checkState(req, state) {
      if (!state) return false;
      const raw = readCookies(req).get(STATE_COOKIE);
      if (!raw) return false;
      const parsed = stateSchema.safeParse(signer.verify("state", raw));
      return parsed.success && parsed.data.exp > now() && safeEqual(parsed.data.state, state);
    },
    clearState: (req) =>
      cookie(STATE_COOKIE, "", { path: STATE_PATH, maxAgeSeconds: 0, secure: secure(req) }),
  };
}

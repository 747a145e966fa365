import type { IncomingMessage, ServerResponse } from "node:http";
import { sendError, sendJson } from "./http.js";
import type { Session, Sessions } from "./session.js";
import { CSRF_HEADER, safeEqual } from "./session.js";

/** Who is calling the admin API: the admin token, or a person signed in with GitHub. */
export type Principal =
  { via: "token"; actor: "admin" } | { via: "session"; actor: string; session: Session };

export interface AuthDeps {
  /** BG_ADMIN_TOKEN. */
  adminToken?: string;
  /** Present when GitHub sign-in is configured. */
  sessions?: Sessions;
}

const unauthorized = (res: ServerResponse, error: string): null => {
  sendJson(res, 401, { error }, { "www-authenticate": 'Bearer realm="bg-agent"' });
  return null;
};

/**
 * The admin API's gate. An `Authorization: Bearer` header decides alone (the admin token, or
 * 401); without one, a valid session cookie from a GitHub sign-in is accepted. Answers 401
 * itself (or 503 when neither the admin token nor GitHub sign-in is configured) and returns null.
 */
export async function authenticate(
  req: IncomingMessage,
  res: ServerResponse,
  deps: AuthDeps,
): Promise<Principal | null> {
  if (!deps.adminToken && !deps.sessions) {
    sendError(res, 503, "the admin API is disabled: set BG_ADMIN_TOKEN to enable it");
    return null;
  }
  const h = req.headers.authorization;
  if (h !== undefined) {
    const m = /^Bearer\s+(.+)$/i.exec(h);
    if (deps.adminToken && m && safeEqual(m[1]!.trim(), deps.adminToken))
      return { via: "token", actor: "admin" };
    return unauthorized(res, "missing or wrong admin token");
  }
  if (deps.sessions) {
    const session = await deps.sessions.read(req);
    if (session) return { via: "session", actor: session.login, session };
    if (deps.sessions.hasCookie(req))
      return unauthorized(res, "the dashboard session expired or is not valid: sign in again");
    return unauthorized(res, "sign in with GitHub at /bg/login, or send the admin token");
  }
  return unauthorized(res, "missing or wrong admin token");
}

/**
 * State-changing calls made with a session cookie must carry the session's CSRF value in
 * `x-bg-csrf` (the page reads it from GET /bg/api/session). A bearer token needs none: browsers
 * never attach it by themselves. Answers 403 itself and returns false when it is missing or wrong.
 */
export function requireCsrf(
  req: IncomingMessage,
  res: ServerResponse,
  who: Principal,
  sessions: Sessions | undefined,
): boolean {
  if (who.via === "token") return true;
  if (sessions?.checkCsrf(req, who.session)) return true;
  sendError(
    res,
    403,
    `missing or wrong ${CSRF_HEADER} header: calls that change something with a session cookie need the value from GET /bg/api/session (scripts: use the admin token)`,
  );
  return false;
}

import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { Octokit } from "@octokit/core";
import { exchangeWebFlowCode, getWebFlowAuthorizationUrl } from "@octokit/oauth-methods";
import { z } from "zod";
import type { Logger } from "../log.js";
import type { Store } from "../store/index.js";
import type { Route } from "./http.js";
import { sendError, sendJson } from "./http.js";
import type { Sessions } from "./session.js";
import { errText } from "../util/errors.js";

/**
 * GitHub sign-in for the dashboard, with the GitHub App's own OAuth credentials.
 *
 *   GET  /bg/login           -> GitHub's authorize page, with a random `state` bound to this
 *                               browser by a short-lived signed cookie
 *   GET  /bg/oauth/callback  -> checks `state`, exchanges `code` for a user token, and lets the
 *                               person in when GET /user/installations (the installations of
 *                               THIS app they can access) includes one bg-agent knows; then a
 *                               signed session cookie and a redirect to /bg (no query)
 *   POST /bg/logout          -> clears the session cookie
 *
 * The authorize URL and the code exchange go through @octokit/oauth-methods, the two reads through
 * @octokit/core's request; the state and session cookies are jose JWTs (session.ts).
 * The user token is used for those two reads and dropped: it is never stored, logged, or put in
 * a cookie or a URL.
 */

export interface OAuthSettings {
  /** GITHUB_CLIENT_ID / GITHUB_CLIENT_SECRET: the GitHub App's OAuth credentials. */
  clientId: string;
  clientSecret: string;
  /** GitHub's web address: https://github.com, or the GHE server's. */
  githubUrl: string;
  /** GitHub's REST API: https://api.github.com, or https://<ghe>/api/v3. */
  apiUrl: string;
  /** BG_PUBLIC_URL: where people reach the app; the redirect URI is built on it when set. */
  publicUrl?: string;
}

export interface OAuthDeps {
  settings: OAuthSettings;
  sessions: Sessions;
  store: Store;
  log: Logger;
  /** For tests; the global fetch otherwise. */
  fetch?: typeof fetch;
}

const CALLBACK_PATH = "/bg/oauth/callback";
const MAX_INSTALLATION_PAGES = 10;

const userAnswer = z.object({ login: z.string().min(1).max(100), id: z.number() });
const installationsAnswer = z.object({
  total_count: z.number().optional(),
  installations: z.array(
    z.object({
      id: z.number(),
      account: z.object({ login: z.string() }).nullable().optional(),
    }),
  ),
});

const escapeHtml = (s: string): string =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );

/** A small self-contained page (sign-in problems), under a CSP that allows only its own style. */
export function sendPage(
  res: ServerResponse,
  status: number,
  title: string,
  paragraphs: string[],
  headers: Record<string, string | string[]> = {},
): true {
  const nonce = randomBytes(16).toString("base64");
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><meta name="robots" content="noindex"><title>${escapeHtml(title)} · bg-agent</title>
<style nonce="${nonce}">body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;background:#f5f7fa;color:#1f2328;margin:0}
main{max-width:560px;margin:60px auto;background:#fff;border:1px solid #d8dee4;border-radius:10px;padding:20px 24px}
h1{font-size:20px;margin:0 0 10px}p{margin:0 0 12px}a{color:#0969da}</style></head>
<body><main><h1>${escapeHtml(title)}</h1>${paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`).join("")}
<p><a href="/bg">Back to the dashboard</a></p></main></body></html>
`;
  res.writeHead(status, {
    "content-type": "text/html; charset=utf-8",
    "content-length": Buffer.byteLength(html),
    "cache-control": "no-store",
    "content-security-policy": `default-src 'none'; style-src 'nonce-${nonce}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    ...headers,
  });
  res.end(html);
  return true;
}

const first = (v: string | string[] | undefined): string =>
  (Array.isArray(v) ? v[0] : v)?.split(",")[0]?.trim() ?? "";

/** The redirect URI GitHub sends people back to: BG_PUBLIC_URL's, else this request's origin. */
export function callbackUrl(req: IncomingMessage, publicUrl: string | undefined): string | null {
  if (publicUrl) return `${publicUrl.replace(/\/+$/, "")}${CALLBACK_PATH}`;
  const host = first(req.headers["x-forwarded-host"]) || first(req.headers.host);
  if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/.test(host)) return null;
  const forwarded = first(req.headers["x-forwarded-proto"]).toLowerCase();
  const proto =
    forwarded === "https" || forwarded === "http"
      ? forwarded
      : "encrypted" in req.socket && (req.socket as { encrypted?: boolean }).encrypted
        ? "https"
        : "http";
  return `${proto}://${host}${CALLBACK_PATH}`;
}

class GitHubError extends Error {}

/** An @octokit/request error that got an HTTP answer (a network failure has no `response`). */
const httpAnswer = z.object({
  name: z.literal("HttpError"),
  response: z.object({ status: z.number(), data: z.unknown() }),
});
/** What GitHub's OAuth endpoint says when it refuses a code (oauth-methods throws it as a 400). */
const oauthRefusal = z.object({ error: z.string().min(1).max(100) });

export function createOAuthRoutes(deps: OAuthDeps): Route {
  const { settings, sessions, store } = deps;
  const log = deps.log.child({ component: "dashboard-sign-in" });
  const web = settings.githubUrl.replace(/\/+$/, "");
  // One request client: the REST API at apiUrl, and (through `.defaults`) the OAuth endpoints
  // at githubUrl, which @octokit/oauth-methods takes from the request's baseUrl.
  const github = new Octokit({
    baseUrl: settings.apiUrl.replace(/\/+$/, ""),
    userAgent: "bg-agent",
    request: deps.fetch ? { fetch: deps.fetch } : {},
    log: {
      debug: () => {},
      info: () => {},
      warn: (message: string) => log.warn(message),
      error: (message: string) => log.error(message),
    },
  });
  const oauthRequest = github.request.defaults({ baseUrl: web });

  /** `GET path` with the user's token; GitHubError on an HTTP error answer. */
  const getJson = async (
    route: "GET /user" | "GET /user/installations",
    token: string,
    query: Record<string, number> = {},
  ): Promise<unknown> => {
    try {
      const res = await github.request(route, {
        ...query,
        headers: { authorization: `Bearer ${token}`, "x-github-api-version": "2022-11-28" },
      });
      return res.data as unknown;
    } catch (e) {
      const answer = httpAnswer.safeParse(e);
      if (answer.success) throw new GitHubError(`${route} answered ${answer.data.response.status}`);
      throw e;
    }
  };

  /** The first installation of this app the user can access that bg-agent knows, if any. */
  const sharedInstallation = async (
    token: string,
  ): Promise<{ id: number; account: string | null } | null> => {
    const known = new Set(await store.repos.installationIds());
    if (known.size === 0) return null;
    for (let page = 1; page <= MAX_INSTALLATION_PAGES; page++) {
      const parsed = installationsAnswer.safeParse(
        await getJson("GET /user/installations", token, { per_page: 100, page }),
      );
      if (!parsed.success) throw new GitHubError("GET /user/installations: unexpected answer");
      const hit = parsed.data.installations.find((i) => known.has(i.id));
      if (hit) return { id: hit.id, account: hit.account?.login ?? null };
      if (parsed.data.installations.length < 100) break;
    }
    return null;
  };

  /** The user token for a sign-in code (oauth-methods), or what GitHub said when it refused. */
  const exchange = async (
    code: string,
    redirectUri: string | null,
  ): Promise<{ token: string } | { refused: string }> => {
    let token: unknown;
    try {
      const { authentication } = await exchangeWebFlowCode({
        clientType: "github-app",
        clientId: settings.clientId,
        clientSecret: settings.clientSecret,
        code,
        ...(redirectUri ? { redirectUrl: redirectUri } : {}),
        request: oauthRequest,
      });
      token = authentication.token;
    } catch (e) {
      const answer = httpAnswer.safeParse(e);
      if (!answer.success) {
        // A network failure is an HttpError without an answer: "network error" to the person.
        if (e instanceof Error && e.name === "HttpError") throw e;
        throw new GitHubError("the code exchange gave an unexpected answer");
      }
      const refusal = oauthRefusal.safeParse(answer.data.response.data);
      if (refusal.success) return { refused: refusal.data.error };
      throw new GitHubError(`the code exchange answered ${answer.data.response.status}`);
    }
    if (typeof token !== "string" || token === "")
      throw new GitHubError("the code exchange gave an unexpected answer");
    return { token };
  };

  /**
   * Exchanges the code for a user token and asks GitHub who the person is and which installations
   * of this app they can access. The token lives only in this function.
   */
  const identify = async (
    code: string,
    redirectUri: string | null,
  ): Promise<
    | { refused: string }
    | {
        user: z.infer<typeof userAnswer>;
        shared: Awaited<ReturnType<typeof sharedInstallation>>;
      }
  > => {
    const exchanged = await exchange(code, redirectUri);
    if ("refused" in exchanged) return exchanged;
    const u = userAnswer.safeParse(await getJson("GET /user", exchanged.token));
    if (!u.success) throw new GitHubError("GET /user: unexpected answer");
    return { user: u.data, shared: await sharedInstallation(exchanged.token) };
  };

  const login = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const redirectUri = callbackUrl(req, settings.publicUrl);
    if (!redirectUri) {
      sendPage(res, 400, "Cannot sign in", [
        "This request has no usable Host header to send GitHub back to. Set BG_PUBLIC_URL to the address people use to reach bg-agent.",
      ]);
      return;
    }
    const { state, setCookie } = await sessions.newState(req);
    const { url: to } = getWebFlowAuthorizationUrl({
      clientType: "github-app",
      clientId: settings.clientId,
      redirectUrl: redirectUri,
      state,
      allowSignup: false,
      request: oauthRequest,
    });
    res.writeHead(302, {
      location: to,
      "set-cookie": setCookie,
      "cache-control": "no-store",
      "referrer-policy": "no-referrer",
    });
    res.end();
  };

  const callback = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const q = url.searchParams;
    const clearState = sessions.clearState(req);
    const denied = q.get("error");
    if (denied) {
      const why = (q.get("error_description") ?? denied).slice(0, 300);
      sendPage(
        res,
        400,
        "GitHub did not sign you in",
        [`GitHub answered: ${why}.`, "Start again from the dashboard to sign in."],
        { "set-cookie": clearState },
      );
      return;
    }
    if (!(await sessions.checkState(req, q.get("state")))) {
      log.warn("sign-in callback with a missing, expired or foreign state: refused");
      sendPage(
        res,
        400,
        "This sign-in link is not valid here",
        [
          "The sign-in was started in another browser, took longer than 10 minutes, or the link was changed. Nothing was signed in.",
          "Start again from the dashboard.",
        ],
        { "set-cookie": clearState },
      );
      return;
    }
    const code = q.get("code") ?? "";
    if (!/^[A-Za-z0-9_-]{1,200}$/.test(code)) {
      sendPage(res, 400, "GitHub sent no sign-in code", ["Start again from the dashboard."], {
        "set-cookie": clearState,
      });
      return;
    }

    let checked: Awaited<ReturnType<typeof identify>>;
    try {
      checked = await identify(code, callbackUrl(req, settings.publicUrl));
    } catch (e) {
      // Messages here are ours or fetch's: never the token.
      log.warn({ err: errText(e) }, "sign-in failed talking to GitHub");
      sendPage(
        res,
        502,
        "Could not check your sign-in with GitHub",
        [
          `GitHub could not be asked who you are (${e instanceof GitHubError ? e.message : "network error"}). Nothing was signed in.`,
          "Try again in a moment.",
        ],
        { "set-cookie": clearState },
      );
      return;
    }
    if ("refused" in checked) {
      const error = checked.refused;
      log.warn({ error }, "GitHub refused the sign-in code");
      sendPage(
        res,
        400,
        "GitHub did not accept the sign-in",
        [
          error === "bad_verification_code"
            ? "The sign-in code was already used or has expired."
            : error === "incorrect_client_credentials" || error === "redirect_uri_mismatch"
              ? `GitHub refused bg-agent's OAuth settings (${error}): check GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET and the GitHub App's callback URL (docs/dashboard.md).`
              : `GitHub answered ${error}.`,
          "Start again from the dashboard.",
        ],
        { "set-cookie": clearState },
      );
      return;
    }
    const { user, shared } = checked;

    if (!shared) {
      log.warn({ login: user.login }, "dashboard sign-in refused: no shared installation");
      await store.audit.write({
        actor: user.login,
        repo: null,
        target: "dashboard",
        command: "sign-in",
        args: null,
        result: "denied: no installation of the app this account can access",
        deliveryId: null,
      });
      sendPage(
        res,
        403,
        "Not a member of an installing organisation",
        [
          `You are signed in to GitHub as @${user.login}, but none of the organisations or accounts that installed this bg-agent GitHub App gives you access to it, so the dashboard stays closed to you.`,
          "Ask an owner of the organisation that installed the app for access to one of its repositories, or sign in with the admin token (BG_ADMIN_TOKEN).",
        ],
        { "set-cookie": clearState },
      );
      return;
    }

    const { session, setCookie } = await sessions.issue(req, user);
    await store.audit.write({
      actor: user.login,
      repo: null,
      target: "dashboard",
      command: "sign-in",
      args: JSON.stringify({ installation: shared.account ?? shared.id }),
      result: "ok",
      deliveryId: null,
    });
    log.info(
      { login: user.login, installation: shared.id, until: new Date(session.exp).toISOString() },
      "signed in to the dashboard with GitHub",
    );
    res.writeHead(303, {
      location: "/bg",
      "set-cookie": [setCookie, clearState],
      "cache-control": "no-store",
      "referrer-policy": "no-referrer",
    });
    res.end();
  };

  const logout = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const session = await sessions.read(req);
    if (session && !sessions.checkCsrf(req, session)) {
      sendError(res, 403, "missing or wrong x-bg-csrf header: sign out from the dashboard page");
      return;
    }
    if (session) {
      await sessions.revoke(session);
      log.info({ login: session.login }, "signed out of the dashboard");
    }
    sendJson(res, 200, { signedOut: true }, { "set-cookie": sessions.clear(req) });
  };

  return async (req, res, url) => {
    const path = url.pathname.replace(/\/+$/, "");
    const method = req.method ?? "GET";
    if (path === "/bg/login") {
      if (method !== "GET") return sendJson(res, 405, { error: "use GET" }, { allow: "GET" });
      await login(req, res);
      return true;
    }
    if (path === CALLBACK_PATH) {
      if (method !== "GET") return sendJson(res, 405, { error: "use GET" }, { allow: "GET" });
      await callback(req, res, url);
      return true;
    }
    if (path === "/bg/logout") {
      if (method !== "POST") return sendJson(res, 405, { error: "use POST" }, { allow: "POST" });
      await logout(req, res);
      return true;
    }
    return false;
  };
}

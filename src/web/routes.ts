import type { Logger } from "../log.js";
import type { Store } from "../store/index.js";
import { createAdminApi } from "./admin-api.js";
import { createDashboardRoute } from "./dashboard-page.js";
import type { Route } from "./http.js";
import { createMetricsRoute } from "./metrics.js";
import type { OAuthSettings } from "./oauth.js";
import { createOAuthRoutes } from "./oauth.js";
import { createSessions } from "./session.js";

/** GitHub sign-in for the dashboard (see docs/dashboard.md); absent: the admin token only. */
export interface DashboardOAuth extends OAuthSettings {
  /** BG_SESSION_SECRET: the keys of the session and state JWTs are derived from it (at least 32 characters). */
  sessionSecret: string;
  /** How long a sign-in lasts; default 8 hours. */
  sessionHours?: number;
}

export interface WebDeps {
  store: Store;
  /** BG_ADMIN_TOKEN: the dashboard's API needs it (or a GitHub sign-in); without either it answers 503. */
  adminToken?: string;
  /** BG_METRICS_TOKEN: when set, /bg/metrics needs it as a bearer token; otherwise /bg/metrics is open. */
  metricsToken?: string;
  /** GitHub sign-in, restricted to people with access to an installation bg-agent knows. */
  oauth?: DashboardOAuth;
  /** The worker loop's wake(), when this process runs the worker. */
  wake?: () => Promise<unknown>;
  log: Logger;
  /** GitHub's web address for links (GHE); default https://github.com. */
  githubUrl?: string;
  now?: () => number;
}

/**
 * The dashboard's routes, in the order the server tries them: the page (/bg), GitHub sign-in
 * (/bg/login, /bg/oauth/callback, /bg/logout) when configured, the admin API (/bg/api/*) and
 * the metrics (/bg/metrics). Each answers only its own paths.
 */
export function createWebRoutes(deps: WebDeps): Route[] {
  const common = {
    store: deps.store,
    log: deps.log,
    ...(deps.adminToken ? { adminToken: deps.adminToken } : {}),
    ...(deps.now ? { now: deps.now } : {}),
  };
  const o = deps.oauth;
  const sessions = o
    ? createSessions({
        secret: o.sessionSecret,
        ttlMs: (o.sessionHours ?? 8) * 3_600_000,
        revocations: deps.store.sessions,
        alwaysSecure: /^https:/i.test(o.publicUrl ?? ""),
        ...(deps.now ? { now: deps.now } : {}),
      })
    : undefined;
  return [
    createDashboardRoute({ githubSignIn: Boolean(o) }),
    ...(o && sessions
      ? [
          createOAuthRoutes({
            settings: {
              clientId: o.clientId,
              clientSecret: o.clientSecret,
              githubUrl: o.githubUrl,
              apiUrl: o.apiUrl,
              ...(o.publicUrl ? { publicUrl: o.publicUrl } : {}),
            },
            sessions,
            store: deps.store,
            log: deps.log,
          }),
        ]
      : []),
    createAdminApi({
      ...common,
      ...(sessions ? { sessions } : {}),
      ...(deps.wake ? { wake: deps.wake } : {}),
      ...(deps.githubUrl ? { githubUrl: deps.githubUrl } : {}),
    }),
    createMetricsRoute({
      ...common,
      ...(sessions ? { sessions } : {}),
      ...(deps.metricsToken ? { metricsToken: deps.metricsToken } : {}),
    }),
  ];
}

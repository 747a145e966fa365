import type { Logger } from "../log.js";
import type { Store } from "../store/index.js";
import { createAdminApi } from "./admin-api.js";
import { createDashboardRoute } from "./dashboard-page.js";
import type { Route } from "./http.js";
import { createMetricsRoute } from "./metrics.js";

export interface WebDeps {
  store: Store;
  /** BG_ADMIN_TOKEN: the dashboard's API needs it; without it the API answers 503. */
  adminToken?: string;
  /** BG_METRICS_TOKEN: when set, /bg/metrics needs it as a bearer token; otherwise /bg/metrics is open. */
  metricsToken?: string;
  /** The worker loop's wake(), when this process runs the worker. */
  wake?: () => Promise<unknown>;
  log: Logger;
  /** GitHub's web address for links (GHE); default https://github.com. */
  githubUrl?: string;
  now?: () => number;
}

/**
 * The dashboard's routes, in the order the server tries them: the page (/bg), the admin API
 * (/bg/api/*) and the metrics (/bg/metrics). Each answers only its own paths.
 */
export function createWebRoutes(deps: WebDeps): Route[] {
  const common = {
    store: deps.store,
    log: deps.log,
    ...(deps.adminToken ? { adminToken: deps.adminToken } : {}),
    ...(deps.now ? { now: deps.now } : {}),
  };
  return [
    createDashboardRoute(),
    createAdminApi({
      ...common,
      ...(deps.wake ? { wake: deps.wake } : {}),
      ...(deps.githubUrl ? { githubUrl: deps.githubUrl } : {}),
    }),
    createMetricsRoute({
      ...common,
      ...(deps.metricsToken ? { metricsToken: deps.metricsToken } : {}),
    }),
  ];
}

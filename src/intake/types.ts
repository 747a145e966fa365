import type { ConfigResult } from "../config/load.js";
import type { Logger } from "../log.js";
import type { Store } from "../store/index.js";
import type { RepositoryBrief } from "../store/repositories.js";

/** A verified webhook delivery, independent of Probot's Context. */
export interface WebhookEvent<P = unknown> {
  /** X-GitHub-Delivery. */
  id: string;
  /** X-GitHub-Event. */
  name: string;
  payload: P;
}

/** What intake handlers take. They only record work: no LLM, no slow API calls beyond the (cached) config. */
export interface IntakeDeps {
  store: Store;
  log: Logger;
  /**
   * The repository's config (cached in the store; context.config behind it in the app). `known`:
   * the repository's row as this delivery already read it, so the cache check reads nothing again.
   * `refresh`: read the file again even when the cached copy is fresh. Writes nothing before its
   * last await, like every handler: a delivery writes in one synchronous block (src/server.ts).
   */
  loadConfig(known?: RepositoryBrief, opts?: { refresh?: boolean }): Promise<ConfigResult>;
  /** Asks the in-process worker to run soon (after the transaction committed). */
  wake?(): void;
  /** bg-agent's own login (`<slug>[bot]`), so its own events are never taken for a person's. */
  selfLogin?: string;
}

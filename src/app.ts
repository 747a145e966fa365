import type { EmitterWebhookEvent } from "@octokit/webhooks";
import { Context } from "probot";
import type { Probot } from "probot";
import type { ExtendsAllow } from "./config/extends.js";
import { readConfigChain } from "./config/extends.js";
import { CONFIG_PATH } from "./config/load.js";
import type { GitHubClient } from "./integrations/github.js";
import { parseRepo } from "./integrations/github.js";
import { lazyChild } from "./log.js";
import type { Logger } from "./log.js";
import type { ConfigResult } from "./config/load.js";
import { capConfigReads } from "./config/size.js";
import type { Store } from "./store/index.js";
import type { RepositoryBrief } from "./store/repositories.js";
import {
  CHECK_EVENTS,
  INSTALLATION_EVENTS,
  ISSUES_EVENTS,
  PULL_REQUEST_EVENTS,
  PULL_REQUEST_REVIEW_EVENTS,
  PUSH_EVENTS,
  configLoader,
  onActivity,
  onChecks,
  onInstallation,
  onIssueComment,
  onIssues,
  onPullRequest,
  onPullRequestReview,
  onPush,
  onTaskEvent,
  reportConfig,
} from "./intake/index.js";
import type { IntakeDeps, WebhookEvent } from "./intake/index.js";
import type { WebhookReceiver } from "./server.js";

export interface AppDeps {
  store: Store;
  /** bg-agent's own login (`<slug>[bot]`), read per event: main.ts fills it once GitHub answered. */
  identity?: { login?: string };
  /** Handlers log here instead of Probot's context.log (tests). */
  log?: Logger;
  /** Asks for a worker pass soon (this process's loop, and the other replicas'): work was queued for `repo`. */
  wake?: (repo?: string) => void;
  /** BG_CONFIG_EXTENDS_ALLOW: other owners (or owner/repo) `_extends` may name. */
  configExtendsAllow?: ExtendsAllow;
}

/** A delivery as handlers see it: Probot's Context, built on first use (see createApp). */
interface HandlerContext {
  id: string;
  name: string;
  payload: unknown;
  log: Logger;
  octokit(): Promise<GitHubClient>;
  config(fileName: string): Promise<unknown>;
}

type Handler = (deps: IntakeDeps, event: WebhookEvent) => Promise<unknown>;

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

/**
 * The app: wiring only. Given Probot, returns the receiver the server hands each verified
 * delivery to; the delivery is routed to its core intake function with IntakeDeps built from
 * its (lazy) Probot Context.
 */
export function createApp(deps: AppDeps): (probot: Probot) => WebhookReceiver {
  const depsFor = (context: HandlerContext): IntakeDeps => {
    const payload = (context.payload ?? {}) as Record<string, unknown>;
    const repository = (payload.repository ?? {}) as Record<string, unknown>;
    const repo = str(repository.full_name) ?? "";
    const defaultBranch = str(repository.default_branch) ?? null;
    const headSha =
      context.name === "push" && defaultBranch && payload.ref === `refs/heads/${defaultBranch}`
        ? str(payload.after)
        : undefined;
    const log = context.log;
    // Built on first use: most events never load the config (skips, comments, installations).
    let loader:
      | ((known?: RepositoryBrief, opts?: { refresh?: boolean }) => Promise<ConfigResult>)
      | undefined;
    return {
      store: deps.store,
      log,
      ...(deps.wake ? { wake: () => deps.wake?.(repo || undefined) } : {}),
      ...(deps.identity?.login ? { selfLogin: deps.identity.login } : {}),
      loadConfig: (known, opts) =>
        (loader ??= configLoader({
          store: deps.store,
          log,
          repo,
          // Not context.config: that follows `_extends` to any owner, with the installation token.
          read: async () =>
            readConfigChain(
              await context.octokit(),
              parseRepo(repo),
              CONFIG_PATH,
              deps.configExtendsAllow ?? [],
            ),
          report: async (result) =>
            reportConfig(
              { octokit: await context.octokit(), store: deps.store, log },
              { repo, defaultBranch, headSha: headSha ?? null },
              result,
            ),
        }))(known, opts),
    };
  };

  const routes = new Map<string, Handler>();
  const route = (events: readonly string[], fn: Handler) =>
    events.forEach((e) => routes.set(e, fn));
  route(PULL_REQUEST_EVENTS, onPullRequest);
  route(PULL_REQUEST_REVIEW_EVENTS, onPullRequestReview);
  route(CHECK_EVENTS, onChecks);
  route(ISSUES_EVENTS, onIssues);
  route(["issue_comment"], onIssueComment);
  route(INSTALLATION_EVENTS, onInstallation);
  route(PUSH_EVENTS, onPush);

  const dispatch = async (context: HandlerContext): Promise<void> => {
    const payload = context.payload as { action?: unknown } | null;
    const action = typeof payload?.action === "string" ? payload.action : null;
    const fn =
      (action !== null ? routes.get(`${context.name}.${action}`) : undefined) ??
      routes.get(context.name);
    const intake = depsFor(context);
    const event: WebhookEvent = { id: context.id, name: context.name, payload: context.payload };
    if (fn) await fn(intake, event);
    else
      intake.log.debug(
        `skip: bg-agent does not act on ${action ? `${context.name}.${action}` : context.name}`,
      );
    // `on:` tasks after the event's own handler: a push refreshes the config first, and a handler
    // that read the config leaves it cached, so this read does not wait on GitHub again.
    await onTaskEvent(intake, event);
    await onActivity(intake, event);
  };

  // Probot's receive() builds an installation Octokit and a Context for every event before any
  // handler runs; most deliveries never call GitHub (the config is cached in the store), so the
  // receiver builds Probot's Context only when a handler first needs it: the same client Probot
  // would have made (its event-octokit auth, with the x-github-delivery header), the same
  // context.config (`_extends` included).
  return (probot: Probot): WebhookReceiver => ({
    get webhooks() {
      return probot.webhooks;
    },
    ready: () => probot.ready(),
    receive: (event: EmitterWebhookEvent) => {
      let context: Promise<Context> | undefined;
      const probotContext = (): Promise<Context> =>
        (context ??= (async () => {
          const app = (await probot.auth()) as unknown as {
            auth(o: { type: "event-octokit"; event: EmitterWebhookEvent }): Promise<unknown>;
          };
          const octokit = await app.auth({ type: "event-octokit", event });
          // Intake reads nothing but config files (`_extends` may name any path): all are capped.
          capConfigReads(octokit as GitHubClient, { anyPath: true });
          return new Context(
            event,
            octokit as Context["octokit"],
            probot.log.child({ name: "event", id: event.id }),
          );
        })());
      return dispatch({
        id: event.id,
        name: event.name,
        payload: event.payload,
        log: deps.log
          ? lazyChild(deps.log, { delivery: event.id })
          : lazyChild(probot.log as unknown as Logger, { name: "event", id: event.id }),
        octokit: async () => (await probotContext()).octokit as unknown as GitHubClient,
        config: async (fileName) => (await probotContext()).config(fileName),
      });
    },
  });
}

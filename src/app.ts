import type { ApplicationFunction, Probot } from "probot";
import type { GitHubClient } from "./integrations/github.js";
import type { Logger } from "./log.js";
import type { ConfigResult } from "./config/load.js";
import type { Store } from "./store/index.js";
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
  reportConfig,
} from "./intake/index.js";
import type { IntakeDeps, WebhookEvent } from "./intake/index.js";

export interface AppDeps {
  store: Store;
  /** bg-agent's own login (`<slug>[bot]`), read per event: main.ts fills it once GitHub answered. */
  identity?: { login?: string };
  /** Handlers log here instead of Probot's context.log (tests). */
  log?: Logger;
  /** Asks the in-process worker loop for a pass soon. */
  wake?: () => void;
}

/** What app.ts needs of Probot's Context (kept structural so any event's context fits). */
interface HandlerContext {
  id: string;
  name: string;
  payload: unknown;
  log: Logger;
  octokit: unknown;
  config(fileName: string): Promise<unknown>;
}

type Handler = (deps: IntakeDeps, event: WebhookEvent) => Promise<unknown>;

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

/** The Probot app: wiring only. Each handler gets IntakeDeps built from its context and calls a core function. */
export function createApp(deps: AppDeps): ApplicationFunction {
  const depsFor = (context: HandlerContext): IntakeDeps => {
    const payload = (context.payload ?? {}) as Record<string, unknown>;
    const repository = (payload.repository ?? {}) as Record<string, unknown>;
    const repo = str(repository.full_name) ?? "";
    const defaultBranch = str(repository.default_branch) ?? null;
    const headSha =
      context.name === "push" && defaultBranch && payload.ref === `refs/heads/${defaultBranch}`
        ? str(payload.after)
        : undefined;
    const log = deps.log ? deps.log.child({ delivery: context.id }) : context.log;
    // Built on first use: most events never load the config (skips, comments, installations).
    let loader: (() => Promise<ConfigResult>) | undefined;
    return {
      store: deps.store,
      log,
      ...(deps.wake ? { wake: deps.wake } : {}),
      ...(deps.identity?.login ? { selfLogin: deps.identity.login } : {}),
      loadConfig: () =>
        (loader ??= configLoader({
          store: deps.store,
          log,
          repo,
          read: () => context.config("bg-agent.yml"),
          report: (result) =>
            reportConfig(
              { octokit: context.octokit as GitHubClient, store: deps.store, log },
              { repo, defaultBranch, headSha: headSha ?? null },
              result,
            ),
        }))(),
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

  // One onAny handler that dispatches itself: Probot builds a Context (and an installation
  // Octokit) per registered handler, so one registration costs what a bare Probot app costs.
  return (app: Probot) => {
    app.onAny(async (event) => {
      // Probot passes its Context to onAny handlers too; the webhooks typings only say EmitterWebhookEvent.
      const context = event as unknown as HandlerContext;
      const payload = context.payload as { action?: unknown } | null;
      const action = typeof payload?.action === "string" ? payload.action : null;
      const fn =
        (action !== null ? routes.get(`${context.name}.${action}`) : undefined) ??
        routes.get(context.name);
      const intake = depsFor(context);
      const wevent: WebhookEvent = { id: context.id, name: context.name, payload: context.payload };
      if (fn) await fn(intake, wevent);
      else
        intake.log.debug(
          `skip: bg-agent does not act on ${action ? `${context.name}.${action}` : context.name}`,
        );
      await onActivity(intake, wevent);
    });
  };
}

import type { ApplicationFunction, Probot } from "probot";
import type { GitHubClient } from "./integrations/github.js";
import type { Logger } from "./log.js";
import type { Store } from "./store/index.js";
import {
  CHECK_EVENTS,
  INSTALLATION_EVENTS,
  ISSUES_EVENTS,
  PULL_REQUEST_EVENTS,
  PULL_REQUEST_REVIEW_EVENTS,
  PUSH_EVENTS,
  configLoader,
  isHandled,
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

type Handler = (deps: IntakeDeps, event: WebhookEvent) => Promise<void>;

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
    const octokit = context.octokit as GitHubClient;
    const log = deps.log ? deps.log.child({ delivery: context.id }) : context.log;
    return {
      store: deps.store,
      log,
      ...(deps.wake ? { wake: deps.wake } : {}),
      ...(deps.identity?.login ? { selfLogin: deps.identity.login } : {}),
      loadConfig: configLoader({
        store: deps.store,
        log,
        repo,
        read: () => context.config("bg-agent.yml"),
        report: (result) =>
          reportConfig(
            { octokit, store: deps.store, log },
            { repo, defaultBranch, headSha: headSha ?? null },
            result,
          ),
      }),
    };
  };
  const handle =
    (fn: Handler) =>
    async (context: HandlerContext): Promise<void> => {
      await fn(depsFor(context), { id: context.id, name: context.name, payload: context.payload });
    };

  return (app: Probot) => {
    app.on([...PULL_REQUEST_EVENTS], handle(onPullRequest));
    app.on([...PULL_REQUEST_REVIEW_EVENTS], handle(onPullRequestReview));
    app.on([...CHECK_EVENTS], handle(onChecks));
    app.on([...ISSUES_EVENTS], handle(onIssues));
    app.on("issue_comment", handle(onIssueComment));
    app.on([...INSTALLATION_EVENTS], handle(onInstallation));
    app.on([...PUSH_EVENTS], handle(onPush));
    // Probot passes its Context to onAny handlers too; the webhooks typings only say EmitterWebhookEvent.
    const onAny = handle(onActivity);
    app.onAny(async (event) => {
      const context = event as unknown as HandlerContext;
      await onAny(context);
      if (!isHandled(context.name, context.payload))
        context.log.debug(`skip: bg-agent does not act on ${context.name}`);
    });
  };
}

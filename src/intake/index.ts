export { onActivity } from "./activity.js";
export { CHECK_EVENTS, onChecks } from "./checks.js";
export { reportConfig, CONFIG_CHECK_NAME } from "./config-check.js";
export { INSTALLATION_EVENTS, onInstallation } from "./installation.js";
export { onIssueComment } from "./issue-comment.js";
export { ISSUES_EVENTS, onIssues } from "./issues.js";
export { configLoader } from "./load-config.js";
export {
  PULL_REQUEST_EVENTS,
  PULL_REQUEST_REVIEW_EVENTS,
  onPullRequest,
  onPullRequestReview,
} from "./pull-request.js";
export { PUSH_EVENTS, onPush } from "./push.js";
export type { IntakeDeps, WebhookEvent } from "./types.js";

import { CHECK_EVENTS } from "./checks.js";
import { INSTALLATION_EVENTS } from "./installation.js";
import { ISSUES_EVENTS } from "./issues.js";
import { PULL_REQUEST_EVENTS, PULL_REQUEST_REVIEW_EVENTS } from "./pull-request.js";
import { PUSH_EVENTS } from "./push.js";

const HANDLED = new Set<string>([
  ...PULL_REQUEST_EVENTS,
  ...PULL_REQUEST_REVIEW_EVENTS,
  ...CHECK_EVENTS,
  ...ISSUES_EVENTS,
  ...INSTALLATION_EVENTS,
  ...PUSH_EVENTS,
  "issue_comment",
]);

/** True when a handler beyond activity acts on this event (name, or name.action). */
export function isHandled(name: string, payload: unknown): boolean {
  const action =
    payload &&
    typeof payload === "object" &&
    "action" in payload &&
    typeof payload.action === "string"
      ? payload.action
      : null;
  return HANDLED.has(name) || (action !== null && HANDLED.has(`${name}.${action}`));
}

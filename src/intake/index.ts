export { onActivity } from "./activity.js";
export { CHECK_EVENTS, onChecks } from "./checks.js";
export { reportConfig, CONFIG_CHECK_NAME } from "./config-check.js";
export { INSTALLATION_EVENTS, onInstallation } from "./installation.js";
export { onIssueComment } from "./issue-comment.js";
export { ISSUES_EVENTS, onIssues } from "./issues.js";
export { configLoader } from "../config/loader.js";
export {
  PULL_REQUEST_EVENTS,
  PULL_REQUEST_REVIEW_EVENTS,
  onPullRequest,
  onPullRequestReview,
} from "./pull-request.js";
export { PUSH_EVENTS, onPush } from "./push.js";
export { TASK_EVENTS, onTaskEvent } from "./task-events.js";
export type { IntakeDeps, WebhookEvent } from "./types.js";

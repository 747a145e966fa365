import { createRequire } from "node:module";

interface ExampleGroup {
  name: string;
  examples: Record<string, unknown>[];
}

const require = createRequire(import.meta.url);
const index = require("@octokit/webhooks-examples/api.github.com/index.json") as ExampleGroup[];

/** The events bg-agent subscribes to (app.yml), as @octokit/webhooks-examples names them. */
export const EVENTS = [
  "pull_request",
  "pull_request_review",
  "check_suite",
  "check_run",
  "status",
  "issues",
  "issue_comment",
  "installation",
  "installation_repositories",
  "push",
  "release",
  "workflow_run",
];

/** Every real example payload of those events, with its event name. */
export const examples = index
  .filter((g) => EVENTS.includes(g.name))
  .flatMap((g) => g.examples.map((payload) => ({ name: g.name, payload })));

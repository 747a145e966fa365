import nock from "nock";
import { afterEach, describe, expect, it } from "vitest";
import { run } from "../../action/src/main.js";
import type { ActionRun } from "../helpers/action-env.js";
import { actionEnv } from "../helpers/action-env.js";
import { fakeLlm } from "../helpers/fake-llm.js";
import { fakeProcessors } from "../helpers/fake-processors.js";
import { API, dashboardIssue, nockActivity, nockComments } from "../helpers/github-nock.js";

let current: ActionRun | undefined;
afterEach(() => {
  current?.restore();
  current = undefined;
});

describe("the Action: human activity from GitHub", () => {
  it("with the default token only: a person's comment 2 minutes ago holds LLM work back, and the job summary says who, what and until when", async () => {
    const a = (current = actionEnv({
      "github-token": "ghs_secret_token",
      "llm-api-key": "sk-test",
      mode: "analyze",
    }));
    const now = Date.now();
    const at = new Date(now - 2 * 60_000).toISOString();
    const scope = nock(API)
      .get("/repos/octo/demo")
      .reply(200, { full_name: "octo/demo", default_branch: "main" })
      .get("/repos/octo/demo/contents/.github%2Fbg-agent.yml")
      .reply(404, { message: "Not Found" })
      .get("/repos/octo/.github/contents/.github%2Fbg-agent.yml")
      .reply(404, { message: "Not Found" });
    nockActivity(scope, {
      // The Action's own token user, just now: not a person.
      events: [
        {
          type: "IssueCommentEvent",
          actor: { login: "github-actions[bot]" },
          created_at: new Date(now).toISOString(),
          payload: { issue: { number: 12 } },
        },
      ],
      comments: [
        {
          user: { login: "alice", type: "User" },
          created_at: at,
          updated_at: at,
          body: "I'll take this one",
          issue_url: "https://api.github.com/repos/octo/demo/issues/12",
        },
      ],
    });
    nockComments(scope)
      .get("/repos/octo/demo/issues")
      .query((q) => q.labels === "bg:dashboard")
      .reply(200, [dashboardIssue(7, "<!-- bg-agent:dashboard:main -->")])
      .get("/repos/octo/demo/issues/7")
      .reply(200, dashboardIssue(7, "<!-- bg-agent:dashboard:main -->"))
      .patch("/repos/octo/demo/issues/7")
      .reply(200, { number: 7, html_url: "https://github.com/octo/demo/issues/7" });
    const llm = fakeLlm([]);

    await run({ processors: fakeProcessors(), createLlm: () => llm, githubRetries: false });

    expect(a.failed()).toBe(false);
    expect(llm.calls).toHaveLength(0);
    const summary = a.summary();
    expect(summary).toMatch(
      /Last human activity: &#64;alice commented on #12, 2m ago — LLM work waits until \d\d:\d\d UTC\./,
    );
    expect(a.stdout()).toMatch(
      /::warning title=bg-agent::people are active \(@alice commented on #12/,
    );
    expect(nock.pendingMocks()).toEqual([]);
  });
});

import nock from "nock";
import { afterEach, describe, expect, it } from "vitest";
import { run } from "../../action/src/main.js";
import type { ActionRun } from "../helpers/action-env.js";
import { actionEnv } from "../helpers/action-env.js";
import { fakeProcessors } from "../helpers/fake-processors.js";
import { API, nockComments, nockConfigFile } from "../helpers/github-nock.js";

let current: ActionRun | undefined;
afterEach(() => {
  current?.restore();
  current = undefined;
  nock.cleanAll();
});

/** The default branch's config has a typo; the run reads it, reports it, and does no work. */
function nockInvalidRepo(): void {
  const scope = nock(API).get("/repos/octo/demo").reply(200, { default_branch: "main" });
  nockConfigFile(scope, "automerg:\n  enabled: true\n");
  scope
    .get("/repos/octo/demo/issues")
    .query((q) => q.labels === "bg:dashboard")
    .reply(200, []);
  nockComments(scope);
}

describe("the Action on an invalid config", () => {
  it("fails the step (red), naming the problem and the way out", async () => {
    current = actionEnv({ "github-token": "ghs_t", mode: "automerge", "dry-run": "true" });
    nockInvalidRepo();
    await run({ processors: fakeProcessors(), githubRetries: false });
    expect(current.failed()).toBe(true);
    expect(current.stdout()).toMatch(
      /::error::\.github\/bg-agent\.yml is invalid \(automerg: unknown key "automerg" \(did you mean "automerge"\?\)\)/,
    );
    expect(current.stdout()).toContain("fail-on-invalid-config: false");
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("fail-on-invalid-config: false keeps the step green with a warning", async () => {
    current = actionEnv({
      "github-token": "ghs_t",
      mode: "automerge",
      "dry-run": "true",
      "fail-on-invalid-config": "false",
    });
    nockInvalidRepo();
    await run({ processors: fakeProcessors(), githubRetries: false });
    expect(current.failed()).toBe(false);
    expect(current.stdout()).toMatch(
      /::warning title=bg-agent config::\.github\/bg-agent\.yml is invalid/,
    );
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a bad value for fail-on-invalid-config is an input error", async () => {
    current = actionEnv({ "github-token": "ghs_t", "fail-on-invalid-config": "maybe" });
    await run({ processors: fakeProcessors(), githubRetries: false });
    expect(current.failed()).toBe(true);
    expect(current.stdout()).toContain("fail-on-invalid-config must be true or false");
  });
});

import nock from "nock";
import { afterEach, describe, expect, it } from "vitest";
import { checkRunEvent, pullRequestEvent } from "../helpers/payloads.js";
import {
  HEAD,
  mockCheckRun,
  mockMerge,
  mockMergedComment,
  mockRead,
} from "../automerge/fixtures.js";
import { REPO, nockConfig, nockToken, startE2E } from "./harness.js";
import type { E2E } from "./harness.js";

let app: E2E | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

describe("e2e: automerge from a webhook", () => {
  it("a ready PR (pull_request.opened) is merged at the evaluated head and the merge is announced", async () => {
    app = await startE2E();
    nockToken();
    nockConfig();
    const opened = await app.deliver("pull_request", pullRequestEvent({ sha: HEAD }));
    expect(opened).toEqual({ status: 200, body: { ok: true } });
    expect(await app.store.tasks.list()).toMatchObject([
      { type: "automerge", source: "pr:7", status: "pending", payload: { pr: 7, headSha: HEAD } },
    ]);

    mockRead(); // the evaluation
    mockRead(); // the re-read right before merging
    const merge = mockMerge();
    const check = mockCheckRun();
    const comment = mockMergedComment();
    const summary = await app.pass();

    expect(summary.repos).toMatchObject([
      { repo: REPO, processed: [{ type: "automerge", source: "pr:7", outcome: "done" }] },
    ]);
    expect(merge.body).toMatchObject({ sha: HEAD, merge_method: "squash" });
    expect(check.body).toMatchObject({
      name: "bg-agent/automerge",
      head_sha: HEAD,
      conclusion: "success",
    });
    expect(comment.body).toContain("<!-- bg-agent:automerge-merged:7 -->");
    expect(comment.body).toContain("merged this PR with squash");
    const status = await app.admin<{ runs: { kind: string; status: string }[] }>("/bg/api/runs");
    expect(status.body.runs).toMatchObject([{ kind: "automerge", status: "merged" }]);
    expect(await app.store.tasks.list()).toMatchObject([{ status: "done" }]);
    expect(app.unmatched).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a failing check (check_suite.completed) means no merge, and the check run names the check", async () => {
    app = await startE2E();
    nockToken();
    nockConfig();
    const event = checkRunEvent({ name: "check_suite", sha: HEAD });
    (event.check_suite as { conclusion: string }).conclusion = "failure";
    const done = await app.deliver("check_suite", event);
    expect(done).toEqual({ status: 200, body: { ok: true } });
    expect(await app.store.tasks.list()).toMatchObject([
      { type: "automerge", source: "pr:7", status: "pending" },
    ]);

    mockRead({
      checkRuns: [
        { name: "build", status: "completed", conclusion: "success" },
        { name: "unit-tests", status: "completed", conclusion: "failure" },
      ],
    });
    const check = mockCheckRun();
    // No PUT .../merge is mocked: a merge attempt would be an unmatched request.
    const summary = await app.pass();

    expect(summary.repos[0]!.processed).toMatchObject([{ type: "automerge", source: "pr:7" }]);
    expect(check.body).toMatchObject({ name: "bg-agent/automerge", head_sha: HEAD });
    expect(check.body!.conclusion).toBe("neutral");
    expect(check.body!.output.title).toBe("Waiting: Checks successful");
    expect(check.body!.output.summary).toContain("failing: `unit-tests` (failure)");
    expect(await app.store.automerge.get(REPO, 7)).toMatchObject({ headSha: HEAD });
    expect((await app.store.automerge.get(REPO, 7))?.state).not.toBe("merged");
    const waiting = await app.admin<{ waiting: { pr: number; firstUnmet: string }[] }>(
      "/bg/api/automerge",
    );
    expect(waiting.body.waiting).toMatchObject([{ pr: 7 }]);
    expect(app.unmatched).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });
});

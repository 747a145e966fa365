import nock from "nock";
import { afterEach, describe, expect, it } from "vitest";
import { createTokenClient } from "../../src/integrations/github.js";
import { memoryLogger } from "../../src/log.js";
import { evaluatePull } from "../../src/processors/automerge/evaluate.js";
import { resetGraphqlCompat } from "../../src/processors/automerge/graphql-compat.js";
import { simulateAutomerge } from "../../src/processors/automerge/simulate.js";
import type { Scenario } from "./fixtures.js";
import {
  GHE_API,
  GHE_HOST,
  HEAD,
  mockCheckRun,
  mockMerge,
  mockMergedComment,
  mockRead,
  undefinedFieldErrors,
} from "./fixtures.js";
import { runTasks, setup } from "./harness.js";

/*
 * A GitHub Enterprise Server whose GraphQL schema predates merge queues answers a query naming
 * `mergeQueue` with HTTP 200 and `errors: [{ message: "Field 'mergeQueue' doesn't exist on type
 * 'Repository'" }]`. bg-agent falls back to the query without those fields, remembers it for that
 * server (per API base URL) for the life of the process, and logs it once.
 */

const ghe = () => createTokenClient({ token: "ghs_test", baseUrl: GHE_API, retries: false });

afterEach(() => resetGraphqlCompat());

const warnings = (log: ReturnType<typeof memoryLogger>) =>
  log.lines.filter((l) => l.level === "warn" && /GraphQL schema/.test(l.msg));

describe("automerge on GitHub Enterprise Server without merge queues", () => {
  it("evaluates and merges with the query without `mergeQueue`, learns it once, logs it once", async () => {
    const log = memoryLogger();
    const s = await setup({ octokit: ghe(), log });
    const first: Scenario = { ghe: true, noMergeQueueSchema: "rejects" };
    const known: Scenario = { ghe: true, noMergeQueueSchema: "fallback" };
    mockRead(first); // the evaluation: the full query fails once, then the fallback
    mockRead(known); // the re-read before merging: the fallback only
    const merge = mockMerge(7, undefined, true);
    const check = mockCheckRun(HEAD, true);
    mockMergedComment(7, true);
    const [outcome] = await runTasks(s, [7]);
    expect(outcome?.status).toBe("done");
    expect(merge.body).toMatchObject({ sha: HEAD, merge_method: "squash" });
    expect(check.body?.output.title).toBe("Merged with squash");
    expect(check.body?.output.summary).toContain("| ✅ | Conversations resolved | all resolved |");
    expect(warnings(log)).toHaveLength(1);
    expect(warnings(log)[0]).toMatchObject({
      obj: { baseUrl: GHE_API, feature: "merge_queue_fields" },
    });
    expect(warnings(log)[0]!.msg).toContain("no Repository.mergeQueue, PullRequest.isInMergeQueue");

    // Later evaluations in the same process go straight to the fallback and log nothing more.
    mockRead({ ...known, number: 8, unresolvedThreads: 1 });
    const later = await evaluatePull(s.ctx, 8);
    expect(later?.conditions.find((c) => c.id === "conversations")).toMatchObject({
      met: false,
      detail: "1 unresolved review conversation",
    });
    expect(later?.via).toBe("merge");
    expect(warnings(log)).toHaveLength(1);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("`/bg simulate` still gives the full evaluation", async () => {
    const s = await setup({ octokit: ghe() });
    mockRead({ ghe: true, noMergeQueueSchema: "rejects" });
    const { markdown } = await simulateAutomerge(s.ctx, 7);
    expect(markdown).toContain("**Result:** would merge with squash, pinned to a1b2c3d.");
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("what is learnt about one server does not change another (github.com keeps `mergeQueue`)", async () => {
    const onGhe = await setup({ octokit: ghe() });
    mockRead({ ghe: true, noMergeQueueSchema: "rejects" });
    await evaluatePull(onGhe.ctx, 7);
    const onDotcom = await setup();
    // The full query, with mergeQueue, answered as github.com does: a merge queue on main.
    mockRead({ mergeQueue: true });
    const ev = await evaluatePull(onDotcom.ctx, 7);
    expect(ev?.via).toBe("merge_queue");
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("any other GraphQL error is not hidden: the evaluation fails with GitHub's message", async () => {
    const s = await setup({ octokit: ghe() });
    mockRead({
      ghe: true,
      graphqlErrors: undefinedFieldErrors([
        { type: "Repository", field: "mergeQueue", path: ["query", "repository", "mergeQueue"] },
        {
          type: "PullRequest",
          field: "reviewThreads",
          path: ["query", "repository", "pullRequest", "reviewThreads"],
        },
      ]),
    });
    await expect(evaluatePull(s.ctx, 7)).rejects.toThrow(
      "Field 'reviewThreads' doesn't exist on type 'PullRequest'",
    );
    // Nothing after the failed read was asked for (the repository's merge methods come last).
    expect(nock.pendingMocks()).toEqual([`GET ${GHE_HOST}:443/api/v3/repos/octo/demo`]);
  });

  it("no `enqueuePullRequest` mutation: merges directly instead, and does not try again", async () => {
    const log = memoryLogger();
    const s = await setup({ octokit: ghe(), log });
    // A ruleset requires a merge queue, so bg-agent would enqueue the PR.
    const rules = [{ type: "merge_queue", parameters: { merge_method: "SQUASH" } }];
    mockRead({ ghe: true, noMergeQueueSchema: "rejects", rules });
    mockRead({ ghe: true, noMergeQueueSchema: "fallback", rules });
    let enqueueTried = 0;
    nock(GHE_HOST)
      .post("/api/graphql", (b: { query: string }) => {
        if (!b.query.includes("enqueuePullRequest")) return false;
        enqueueTried++;
        return true;
      })
      .reply(200, {
        errors: undefinedFieldErrors([
          {
            type: "Mutation",
            field: "enqueuePullRequest",
            path: ["mutation", "enqueuePullRequest"],
          },
        ]),
      });
    const merge = mockMerge(7, undefined, true);
    const check = mockCheckRun(HEAD, true);
    mockMergedComment(7, true);
    const [outcome] = await runTasks(s, [7]);
    expect(outcome?.status).toBe("done");
    expect(enqueueTried).toBe(1);
    expect(merge.body).toMatchObject({ sha: HEAD, merge_method: "squash" });
    expect(check.body?.output.title).toBe("Merged with squash");
    const enqueueWarnings = warnings(log).filter(
      (l) => (l.obj as { feature?: string }).feature === "enqueue_mutation",
    );
    expect(enqueueWarnings).toHaveLength(1);
    expect(enqueueWarnings[0]!.msg).toContain("no Mutation.enqueuePullRequest");

    // The next ready PR on this server is merged directly without asking again.
    mockRead({ ghe: true, noMergeQueueSchema: "fallback", rules, number: 9 });
    mockRead({ ghe: true, noMergeQueueSchema: "fallback", rules, number: 9 });
    const merge9 = mockMerge(9, undefined, true);
    mockCheckRun(HEAD, true);
    mockMergedComment(9, true);
    // #7's merge into the same base is in the store: its settle window is not what this is about.
    const [next] = await runTasks(s, [9], { settleMs: 0 });
    expect(next?.status).toBe("done");
    expect(merge9.body?.sha).toBe(HEAD);
    expect(enqueueTried).toBe(1);
    expect(warnings(log)).toHaveLength(2);
    expect(nock.pendingMocks()).toEqual([]);
  });
});

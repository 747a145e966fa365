import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { issueContentHash } from "../../src/util/hash.js";
import { deliver, seedConfig, startTestApp } from "../helpers/app-server.js";
import type { TestApp } from "../helpers/app-server.js";
import { REPO, issuesEvent, pullRequestEvent } from "../helpers/payloads.js";

describe("dedup", () => {
  let app: TestApp;
  beforeEach(async () => {
    app = await startTestApp();
    await seedConfig(app.store, REPO, {});
  });
  afterEach(() => app.close());

  it("a redelivered X-GitHub-Delivery creates nothing the second time", async () => {
    const first = await deliver(app, {
      name: "pull_request",
      payload: pullRequestEvent(),
      id: "d-1",
    });
    const again = await deliver(app, {
      name: "pull_request",
      payload: pullRequestEvent({ number: 8 }),
      id: "d-1",
    });
    expect(first.status).toBe(200);
    expect(again).toMatchObject({ status: 200, body: { duplicate: true } });
    expect((await app.store.tasks.list()).map((t) => t.source)).toEqual(["pr:7"]);
  });

  it("a replay racing the original is answered like it and creates nothing more", async () => {
    const payload = pullRequestEvent();
    const [a, b] = await Promise.all([
      deliver(app, { name: "pull_request", payload, id: "d-race" }),
      deliver(app, { name: "pull_request", payload, id: "d-race" }),
    ]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(await app.store.tasks.list()).toHaveLength(1);
  });

  it("keeps one open automerge task per PR, refreshed with the newest head SHA", async () => {
    await deliver(app, {
      name: "pull_request",
      payload: pullRequestEvent({ sha: "1".repeat(40) }),
    });
    await deliver(app, {
      name: "pull_request",
      payload: pullRequestEvent({ action: "synchronize", sha: "2".repeat(40) }),
    });
    await deliver(app, {
      name: "pull_request_review",
      payload: { ...pullRequestEvent({ sha: "2".repeat(40) }), action: "submitted" },
    });
    const tasks = await app.store.tasks.list();
    expect(tasks).toHaveLength(1);
    expect(tasks[0]).toMatchObject({
      type: "automerge",
      source: "pr:7",
      status: "pending",
      payload: { pr: 7, headSha: "2".repeat(40) },
    });
  });

  it("queues a follow-up, once, when the PR changes while its evaluation runs", async () => {
    await deliver(app, { name: "pull_request", payload: pullRequestEvent() });
    await app.store.tasks.claim({ owner: "w", leaseMs: 60_000, limit: 10 });
    await deliver(app, {
      name: "pull_request",
      payload: pullRequestEvent({ action: "synchronize", sha: "3".repeat(40) }),
    });
    await deliver(app, {
      name: "pull_request",
      payload: pullRequestEvent({ action: "labeled", sha: "3".repeat(40) }),
    });
    expect((await app.store.tasks.list()).map((t) => t.status).sort()).toEqual([
      "pending",
      "running",
    ]);
  });

  it("a closed PR cancels its pending evaluation", async () => {
    await deliver(app, { name: "pull_request", payload: pullRequestEvent() });
    await deliver(app, {
      name: "pull_request",
      payload: pullRequestEvent({ action: "closed", state: "closed" }),
    });
    expect((await app.store.tasks.list()).map((t) => t.status)).toEqual(["cancelled"]);
    // Reopened: queued again.
    await deliver(app, { name: "pull_request", payload: pullRequestEvent({ action: "reopened" }) });
    expect(await app.store.tasks.list({ status: "pending" })).toHaveLength(1);
  });

  it("re-queues an analysed issue only when its text changes", async () => {
    await deliver(app, { name: "issues", payload: issuesEvent() });
    const [task] = await app.store.tasks.list();
    expect(task).toMatchObject({
      type: "tech_debt_analysis",
      source: "issue:3",
      payload: { key: `${REPO}#3`, number: 3 },
    });
    // The worker analyses it.
    await app.store.tasks.claim({ owner: "w", leaseMs: 60_000, limit: 1 });
    await app.store.analyses.save({
      key: `${REPO}#3`,
      repo: REPO,
      source: "github",
      contentHash: task!.contentHash!,
      shouldFix: false,
      complexity: "low",
      plan: "nothing",
      affectedFiles: [],
      batchId: null,
      commentUrl: null,
    });
    await app.store.tasks.complete(task!.id, "w", {});
    // Another label, same text: nothing new.
    await deliver(app, {
      name: "issues",
      payload: issuesEvent({ action: "labeled", labels: ["tech-debt", "p2"] }),
    });
    expect(await app.store.tasks.list({ status: "pending" })).toHaveLength(0);
    // The text changed: analysed again.
    await deliver(app, {
      name: "issues",
      payload: issuesEvent({ action: "edited", body: "Also the old queue." }),
    });
    const pending = await app.store.tasks.list({ status: "pending" });
    expect(pending).toHaveLength(1);
    expect(pending[0]!.contentHash).toBe(
      issueContentHash("Remove the legacy cache", "Also the old queue."),
    );
  });
});

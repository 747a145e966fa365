import nock from "nock";
import { afterEach, describe, expect, it } from "vitest";
import {
  API,
  REPO,
  commentEvent,
  installationCreated,
  nockConfig,
  nockNewComment,
  nockToken,
  startE2E,
} from "./harness.js";
import type { E2E } from "./harness.js";

let app: E2E | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

describe("e2e: the app's worker loop, woken by intake", () => {
  it("a /bg comment wakes the worker: its first (sweeping) pass answers it once", async () => {
    app = await startE2E({ loop: true });
    nockToken();
    await app.deliver("installation", installationCreated());

    const event = commentEvent({ id: 801, body: "/bg help", login: "dave" });
    nockConfig();
    // The first pass of the loop sweeps: it finds the same comment on GitHub (already queued),
    // the open PRs (none) and the open tech-debt issues (none).
    nock(API)
      .get(`/repos/${REPO}/issues/comments`)
      .query((q) => q.sort === "updated" && typeof q.since === "string")
      .reply(200, [
        {
          id: 801,
          body: event.comment.body,
          html_url: event.comment.html_url,
          issue_url: `${API}/repos/${REPO}/issues/3`,
          created_at: new Date().toISOString(),
          updated_at: new Date().toISOString(),
          user: event.comment.user,
        },
      ])
      .post(`/repos/${REPO}/issues/comments/801/reactions`, { content: "eyes" })
      .reply(201, { id: 1, content: "eyes" })
      .get(`/repos/${REPO}/pulls`)
      .query({ state: "open", per_page: "100" })
      .reply(200, [])
      .get(`/repos/${REPO}/issues`)
      .query({ state: "open", labels: "tech-debt", per_page: "100" })
      .reply(200, []);
    const reply = nockNewComment(3, 9301);

    expect((await app.deliver("issue_comment", event)).status).toBe(200);
    expect(app.wakes).toHaveLength(1);
    await app.wakes[0];

    expect(await app.store.tasks.list()).toMatchObject([
      { type: "command", source: "comment:801", status: "done" },
    ]);
    expect(reply.bodies).toHaveLength(1);
    expect(reply.bodies[0]!.body).toContain("<!-- bg-agent:reply:801 -->");
    expect(reply.bodies[0]!.body).toContain("/bg approve");
    expect(app.unmatched).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });
});

import nock from "nock";
import { afterEach, describe, expect, it } from "vitest";
import { issuesEvent } from "../helpers/payloads.js";
import {
  REPO,
  commentEvent,
  installationCreated,
  nockConfig,
  nockNewComment,
  nockToken,
  startE2E,
} from "./harness.js";
import type { E2E } from "./harness.js";
import { API } from "./harness.js";

let app: E2E | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

describe("e2e: GitHub delivering the same webhook twice", () => {
  it("the same delivery id twice (and the comment again under another id, twice at once) -> one task, one reply", async () => {
    app = await startE2E();
    nockToken();
    await app.deliver("installation", installationCreated());

    const payload = commentEvent({ id: 701, body: "/bg help", login: "dave" });
    const first = await app.deliver("issue_comment", payload, "delivery-701");
    const again = await app.deliver("issue_comment", payload, "delivery-701");
    expect(first).toEqual({ status: 200, body: { ok: true } });
    expect(again).toEqual({ status: 200, body: { ok: true, duplicate: true } });
    // The same comment under another delivery id, delivered twice at once: nothing more either.
    const racing = await Promise.all([
      app.deliver("issue_comment", payload, "delivery-701-b"),
      app.deliver("issue_comment", payload, "delivery-701-b"),
    ]);
    expect(racing.map((r) => r.status)).toEqual([200, 200]);
    expect(await app.store.tasks.list()).toMatchObject([
      { type: "command", source: "comment:701", status: "pending" },
    ]);

    nockConfig();
    nock(API)
      .post(`/repos/${REPO}/issues/comments/701/reactions`, { content: "eyes" })
      .reply(201, { id: 1, content: "eyes" });
    const reply = nockNewComment(3, 9201);
    const pass = await app.pass();
    expect(pass.repos[0]!.processed).toMatchObject([
      { type: "command", source: "comment:701", outcome: "done" },
    ]);
    expect(reply.bodies).toHaveLength(1);
    expect(reply.bodies[0]!.body).toContain("<!-- bg-agent:reply:701 -->");

    // Redelivered after it was answered: still nothing new, and the next pass does nothing.
    expect(await app.deliver("issue_comment", payload, "delivery-701")).toMatchObject({
      status: 200,
      body: { duplicate: true },
    });
    expect((await app.pass()).repos).toEqual([]);
    expect(await app.store.tasks.list()).toHaveLength(1);
    expect(app.unmatched).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("an issues.labeled delivery replayed -> one analysis task", async () => {
    app = await startE2E();
    nockToken();
    nockConfig();
    const payload = issuesEvent({ action: "labeled" });
    expect((await app.deliver("issues", payload, "delivery-3")).body).toEqual({ ok: true });
    expect((await app.deliver("issues", payload, "delivery-3")).body).toEqual({
      ok: true,
      duplicate: true,
    });
    expect(await app.store.tasks.list()).toMatchObject([
      { type: "tech_debt_analysis", source: "issue:3", deliveryId: "delivery-3" },
    ]);
    expect(app.unmatched).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });
});

import nock from "nock";
import { afterEach, describe, expect, it } from "vitest";
import {
  API,
  REPO,
  commentEvent,
  nockConfig,
  nockNewComment,
  nockToken,
  startE2E,
} from "../e2e/harness.js";
import type { E2E } from "../e2e/harness.js";
import { installationCreated } from "../e2e/harness.js";

let app: E2E | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

/** The app, the repository known, and a fix plan waiting for `/bg approve` on issue #3. */
async function withProposal(): Promise<E2E> {
  const e = await startE2E({ processors: (all) => all.filter((p) => p.type !== "fix") });
  expect((await e.deliver("installation", installationCreated())).status).toBe(200);
  await e.store.proposals.propose({
    repo: REPO,
    kind: "fix",
    target: "issue:3",
    contentHash: "h1",
    payload: { key: `${REPO}#3`, plan: "Delete it.", affectedFiles: [], complexity: "low" },
  });
  return e;
}

const untouched = async (e: E2E): Promise<void> => {
  expect(await e.store.proposals.latest(REPO, "issue:3", "fix")).toMatchObject({
    status: "proposed",
  });
  expect(await e.store.tasks.list({ type: "fix" })).toEqual([]);
  expect(await e.store.activity.manualPause(REPO)).toBeNull();
};

describe("command permissions, from the outside (signed issue_comment webhooks)", () => {
  it.each([
    ["read", 200, { permission: "read", role_name: "read" }],
    ["triage", 200, { permission: "read", role_name: "triage" }],
    ["none (not a collaborator: 404)", 404, { message: "Not Found" }],
  ] as const)(
    "/bg approve from a person with %s permission is refused, audited, and changes nothing",
    async (_level, status, answer) => {
      // Injects: a state-changing command from someone below `write`. Lost: 0 (one reply);
      // done twice: 0; approvals: 0.
      app = await withProposal();
      nockToken();
      nockConfig();
      const r = await app.deliver(
        "issue_comment",
        commentEvent({ id: 601, body: "/bg approve\n/bg pause", login: "mallory" }),
      );
      expect(r.status).toBe(200);
      nock(API)
        .post(`/repos/${REPO}/issues/comments/601/reactions`)
        .reply(201, { id: 1, content: "eyes" })
        .get(`/repos/${REPO}/collaborators/mallory/permission`)
        .reply(status, answer);
      const reply = nockNewComment(3, 9601);
      await app.pass();
      expect(reply.bodies).toHaveLength(1);
      expect(reply.bodies[0]!.body).toMatch(/needs write permission/);
      await untouched(app);
      const audit = await app.admin<{ entries: { actor: string; result: string }[] }>(
        "/bg/api/audit",
      );
      expect(audit.body.entries.length).toBeGreaterThan(0);
      for (const a of audit.body.entries) {
        expect(a.actor).toBe("mallory");
        expect(a.result).toMatch(/^refused/);
      }
      expect(app.unmatched).toEqual([]);
      expect(nock.pendingMocks()).toEqual([]);
    },
  );

  it.each([
    ["a bot (type Bot)", { login: "dependabot", type: "Bot" }, "created"],
    ["a bot by its [bot] login", { login: "renovate[bot]", type: "User" }, "created"],
    ["bg-agent itself", { login: "bg-agent[bot]", type: "Bot" }, "created"],
    ["an edited comment", { login: "bob", type: "User" }, "edited"],
    ["a deleted comment", { login: "bob", type: "User" }, "deleted"],
  ] as const)("%s is never a command: no task, no GitHub call", async (_who, user, action) => {
    // Injects: /bg approve from a non-person or a non-new comment. Commands queued: 0.
    app = await withProposal();
    const event = commentEvent({ id: 602, body: "/bg approve", login: user.login });
    event.comment.user.type = user.type;
    const r = await app.deliver("issue_comment", {
      ...event,
      action,
      sender: user,
      ...(action === "edited" ? { changes: { body: { from: "thanks" } } } : {}),
    });
    expect(r.status).toBe(200);
    expect(await app.store.tasks.list({ type: "command" })).toEqual([]);
    await untouched(app);
    expect(app.unmatched).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a writer's comment whose only /bg line is hidden (comment, <details>, quote, code) queues nothing", async () => {
    // Injects: a writer pasting text that holds hidden commands. Commands queued: 0.
    app = await withProposal();
    const bodies = [
      "LGTM <!-- /bg approve -->",
      "<details><summary>log</summary>\n\n/bg approve\n\n</details>",
      "> /bg approve\n\nquoting the bot",
      "```\n/bg approve\n```",
      "<pre>\n/bg approve\n</pre>",
      "<!--\n/bg approve",
    ];
    let id = 700;
    for (const body of bodies)
      expect(
        (await app.deliver("issue_comment", commentEvent({ id: id++, body, login: "bob" }))).status,
      ).toBe(200);
    expect(await app.store.tasks.list({ type: "command" })).toEqual([]);
    await untouched(app);
    expect(app.unmatched).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });
});

import nock from "nock";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  ADMIN_TOKEN,
  API,
  LLM,
  REPO,
  commentEvent,
  installationCreated,
  nockConfig,
  nockToken,
  startE2E,
} from "./harness.js";
import type { E2E } from "./harness.js";

/**
 * The app re-checks activity and pauses before every LLM call, not once per pass: a person who
 * comments (a signed webhook) or an admin who pauses (the admin API) while a pass runs stops the
 * LLM work that has not started yet.
 */

const MIN = 60_000;

let app: E2E | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
  vi.useRealTimers();
});

/** One chat completion: `tools` calls of list_pull_requests, or the answer `text`. */
function nockChat(o: { tools?: number; text?: string }, onRequest?: () => Promise<void> | void) {
  let calls = 0;
  nock(LLM)
    .post("/v1/chat/completions")
    .reply(async () => {
      calls++;
      await onRequest?.();
      const message = o.tools
        ? {
            role: "assistant",
            content: null,
            refusal: null,
            tool_calls: Array.from({ length: o.tools }, (_, i) => ({
              id: `call_${i}`,
              type: "function",
              function: { name: "list_pull_requests", arguments: '{"state":"open"}' },
            })),
          }
        : { role: "assistant", content: o.text ?? "ok", refusal: null };
      return [
        200,
        {
          id: "chatcmpl-e2e",
          object: "chat.completion",
          created: 1,
          model: "gpt-4o-mini",
          choices: [{ index: 0, finish_reason: "stop", logprobs: null, message }],
          usage: { prompt_tokens: 300, completion_tokens: 20, total_tokens: 320 },
        },
      ];
    });
  return { calls: () => calls };
}

const task = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  prompt: `Task ${name}.`,
  every: "1d",
  notify: "never",
  ...extra,
});

const configOf = (tasks: unknown[]) => ({ activity: { pause_when_active_minutes: 5 }, tasks });

async function installed(tasks: unknown[]): Promise<E2E> {
  const e = await startE2E({ processors: (all) => all.filter((p) => p.type === "prompt_task") });
  nockToken();
  // Installed by an automation (a bot): no human activity yet.
  const install = { ...installationCreated(), sender: { login: "octo-setup[bot]", type: "Bot" } };
  expect((await e.deliver("installation", install)).status).toBe(200);
  nockConfig(configOf(tasks));
  return e;
}

describe("e2e: activity is re-checked before every LLM call", () => {
  it("a person comments (signed webhook, injected once) while a prompt task is between tool calls: it stops after that call, the run is preempted, not failed, and completes on a later quiet pass", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() });
    app = await installed([task("review", { tools: ["list_pull_requests"] })]);
    const e = app;
    const turn1 = nockChat({ tools: 2 });
    let listed = 0;
    nock(API)
      .get(`/repos/${REPO}/pulls`)
      .query(true)
      .reply(async () => {
        listed++;
        // Alice comments while the tool call runs.
        const d = await e.deliver(
          "issue_comment",
          commentEvent({ id: 801, body: "Working on this now", login: "alice" }),
        );
        expect(d.status).toBe(200);
        return [200, [{ number: 9, title: "wip", state: "open", user: { login: "alice" } }]];
      });

    const first = await app.pass();
    expect(turn1.calls()).toBe(1);
    expect(listed).toBe(1); // the second tool call of the turn never ran
    expect(first.repos[0]!.processed).toEqual([
      expect.objectContaining({
        type: "prompt_task",
        outcome: "retry",
        detail: expect.stringContaining(
          "preempted: people are active (@alice, 0s ago — LLM work waits until",
        ),
      }),
    ]);
    const runs = await app.store.runs.list({ repo: REPO });
    expect(runs.map((r) => r.status)).toEqual(["preempted"]);
    const s = (await app.store.schedules.get(REPO, "review"))!;
    expect(s).toMatchObject({ status: "active", consecutiveFailures: 0, runCount: 0 });
    const [queued] = await app.store.tasks.list({ repo: REPO, type: "prompt_task" });
    expect(queued).toMatchObject({ status: "pending" });

    // While alice is active: nothing runs, no LLM call (none is mocked: one would be unmatched).
    const during = await app.pass();
    expect(during.repos.flatMap((r) => r.processed)).toEqual([]);

    // Ten quiet minutes later: it runs to the end, once.
    vi.setSystemTime(Date.now() + 10 * MIN);
    // The cached config is stale by then: read again.
    nockConfig(configOf([task("review", { tools: ["list_pull_requests"] })]));
    const turn2 = nockChat({ text: "One PR is open: #9." });
    const later = await app.pass();
    expect(turn2.calls()).toBe(1);
    expect(later.repos[0]!.processed).toEqual([
      expect.objectContaining({ type: "prompt_task", outcome: "done" }),
    ]);
    expect((await app.store.runs.list({ repo: REPO })).map((r) => r.status).sort()).toEqual([
      "changed",
      "preempted",
    ]);
    expect(await app.store.schedules.get(REPO, "review")).toMatchObject({
      runCount: 1,
      consecutiveFailures: 0,
    });
    expect(app.unmatched).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("an admin pauses the repository (admin API, injected once) during a pass: the next task's LLM work does not start; it is not lost and runs after /resume", async () => {
    app = await installed([task("first"), task("second")]);
    const e = app;
    const one = nockChat({ text: "first done" }, async () => {
      const res = await fetch(`${e.url}/bg/api/pause`, {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({ repo: REPO, reason: "release freeze" }),
      });
      expect(res.status).toBe(200);
    });

    const pass = await app.pass();
    // The call in flight finishes; the other task's call is never sent.
    expect(one.calls()).toBe(1);
    const processed = pass.repos[0]!.processed;
    expect(processed).toHaveLength(1);
    expect(processed[0]).toMatchObject({ type: "prompt_task", outcome: "done" });
    expect(pass.repos[0]!.skipped).toContain("paused by");
    const open = (await app.store.tasks.list({ repo: REPO, type: "prompt_task" })).filter(
      (t) => t.status === "pending",
    );
    // Lost: 0 (still queued); done twice: 0; no attempt spent on it.
    expect(open).toHaveLength(1);
    expect(open[0]!.attempts).toBe(0);

    const res = await fetch(`${e.url}/bg/api/resume`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ repo: REPO }),
    });
    expect(res.status).toBe(200);
    const two = nockChat({ text: "second done" });
    const after = await app.pass();
    expect(two.calls()).toBe(1);
    expect(after.repos[0]!.processed).toEqual([
      expect.objectContaining({ type: "prompt_task", outcome: "done" }),
    ]);
    const runs = await app.store.runs.list({ repo: REPO });
    expect(runs.map((r) => r.ref).sort()).toEqual(["task:first", "task:second"]);
    expect(app.unmatched).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });
});

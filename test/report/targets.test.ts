import { createHmac } from "node:crypto";
import nock from "nock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { status } from "../../src/commands/builtin/status.js";
import { createPromptTaskProcessor } from "../../src/processors/prompt-task/index.js";
import { splitMessage } from "../../src/report/targets/discord.js";
import type { Store } from "../../src/store/index.js";
import { runPass } from "../../src/worker/pass.js";
import { testCtx, testEnv } from "../helpers/context.js";
import { fakeLlm } from "../helpers/fake-llm.js";
import { startReceiver } from "../helpers/receiver.js";
import { memoryStore } from "../helpers/store.js";
import { REPO } from "../schedule/helpers.js";

const API = "https://api.github.com";
let store: Store;
const closers: (() => Promise<void>)[] = [];
beforeEach(async () => {
  store = await memoryStore();
});
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

async function receiver(status?: (n: number) => number) {
  const r = await startReceiver(status);
  closers.push(r.close);
  return r;
}

async function run(task: Record<string, unknown>, env: Record<string, string>, answer: string) {
  const llm = fakeLlm([answer]);
  const tasks = [{ name: "digest", prompt: "Summarise.", every: "1h", ...task }];
  const e = testEnv(store, { config: { tasks }, llm });
  const p = createPromptTaskProcessor({ report: { env, retryDelaysMs: [0, 0] } });
  return runPass(e, [p], { repo: REPO });
}

describe("reports outside GitHub", () => {
  it("Slack, Discord and a signed webhook report arrive at their receivers, mentions defused", async () => {
    const [slack, discord, hook] = await Promise.all([receiver(), receiver(), receiver()]);
    const long = `${"A line of the result that goes on for a while.\n".repeat(60)}Ping <!channel> @here @everyone <@123> @alice, key sk-proj-abcdefghijklmnopqrstuvwx`;
    await run(
      { report_to: ["slack:TEAM_SLACK", "discord:TEAM_DISCORD", "webhook:AUDIT_HOOK"] },
      {
        TEAM_SLACK: slack.url,
        TEAM_DISCORD: discord.url,
        AUDIT_HOOK: hook.url,
        AUDIT_HOOK_SECRET: "hook-secret-123",
      },
      long,
    );

    expect(slack.received).toHaveLength(1);
    const s = JSON.parse(slack.received[0]!.body) as { text: string; blocks: { type: string }[] };
    expect(s.blocks[0]).toMatchObject({ type: "header" });
    const slackText = slack.received[0]!.body;
    expect(slackText).not.toContain("<!channel>");
    expect(slackText).toContain("&lt;!channel&gt;");
    expect(slackText).not.toMatch(/[^\u200d]@here/);
    expect(slackText).not.toContain("sk-proj-abcdefghijklmnopqrstuvwx");

    // Discord: split into messages of at most 2,000 characters, no mention parsed.
    expect(discord.received.length).toBeGreaterThan(1);
    for (const r of discord.received) {
      const m = JSON.parse(r.body) as { content: string; allowed_mentions: unknown };
      expect(m.content.length).toBeLessThanOrEqual(2_000);
      expect(m.allowed_mentions).toEqual({ parse: [] });
      expect(m.content).not.toMatch(/(^|[^\u200d])@everyone/);
      expect(m.content).not.toContain("<@123>");
    }

    expect(hook.received).toHaveLength(1);
    const { headers, body } = hook.received[0]!;
    const want = `sha256=${createHmac("sha256", "hook-secret-123").update(body).digest("hex")}`;
    expect(headers["x-bg-signature-256"]).toBe(want);
    expect(headers["x-bg-timestamp"]).toMatch(/^\d+$/);
    expect(JSON.parse(body)).toMatchObject({ event: "task.report", task: "digest", repo: REPO });

    expect((await store.reports.recent(REPO)).map((d) => [d.target, d.status]).sort()).toEqual([
      ["discord:TEAM_DISCORD", "delivered"],
      ["slack:TEAM_SLACK", "delivered"],
      ["webhook:AUDIT_HOOK", "delivered"],
    ]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a receiver answering 500 gets 3 attempts, then the failure shows in the GitHub report and /bg status; an unset variable is said too", async () => {
    const broken = await receiver(() => 500);
    const bodies: string[] = [];
    nock(API)
      .get("/repos/octo/demo/issues/9/comments")
      .query(true)
      .reply(200, [])
      .post("/repos/octo/demo/issues/9/comments", (b: { body: string }) => {
        bodies.push(b.body);
        return true;
      })
      .reply(201, { id: 77, html_url: "https://github.com/octo/demo/issues/9#issuecomment-77" });
    await run(
      { report_to: [9, "webhook:BROKEN_HOOK", "slack:NOT_SET"] },
      { BROKEN_HOOK: broken.url, BROKEN_HOOK_SECRET: "hook-secret-123" },
      "Three issues are open.",
    );
    expect(broken.received).toHaveLength(3);
    // The result is kept on GitHub, with what did not arrive.
    expect(bodies).toHaveLength(1);
    expect(bodies[0]).toContain("Three issues are open.");
    expect(bodies[0]).toContain("Not delivered to `webhook:BROKEN_HOOK`");
    expect(bodies[0]).toContain("HTTP 500 after 3 attempt(s)");
    expect(bodies[0]).toContain("NOT_SET is not set");
    expect(bodies[0]).not.toContain("127.0.0.1"); // the URL is never shown

    const failing = await store.reports.failing(REPO);
    expect(failing.map((d) => [d.target, d.status, d.attempts])).toEqual([
      ["slack:NOT_SET", "unset", 0],
      ["webhook:BROKEN_HOOK", "failed", 3],
    ]);
    const ctx = await testCtx(store, REPO, { config: {} });
    const out = await status.handle(
      {
        ctx,
        actor: "alice",
        number: 1,
        isPullRequest: false,
        where: "issue:1",
        deliveryId: null,
        dryRun: false,
        now: Date.now(),
        comments: async () => [],
        commands: [],
      },
      { name: "status" },
    );
    expect(out.text).toContain("Reports not delivered");
    expect(out.text).toContain("webhook:BROKEN_HOOK");
    expect(out.text).toContain("failed after 3 attempt(s)");
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("splits at line breaks within the limit", () => {
    const parts = splitMessage(`${"x".repeat(1500)}\n${"y".repeat(1500)}`);
    expect(parts).toEqual(["x".repeat(1500), "y".repeat(1500)]);
  });
});

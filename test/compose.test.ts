import nock from "nock";
import { afterEach, describe, expect, it } from "vitest";
import { createBgAgent } from "../src/compose.js";
import type { BgAgent } from "../src/compose.js";
import { readEnv } from "../src/env.js";
import { memoryLogger } from "../src/log.js";
import { testProbot } from "./helpers/app-server.js";
import { memoryStore } from "./helpers/store.js";

const TOKEN = "compose-admin-token-0123456789";
let agent: BgAgent | undefined;
afterEach(async () => {
  await agent?.stop();
  agent = undefined;
});

const start = async (env: Record<string, string>, identity?: { login?: string }) => {
  const log = memoryLogger();
  agent = await createBgAgent({
    env: readEnv({ BG_DB_PATH: ":memory:", BG_ADMIN_TOKEN: TOKEN, ...env }),
    processEnv: {},
    store: await memoryStore(),
    probot: testProbot(),
    log,
    ...(identity ? { identity } : {}),
    processors: () => [],
    retention: false,
  });
  await agent.start(0, "127.0.0.1");
  return { agent, log, url: agent.server.url() };
};

const wake = (url: string) =>
  fetch(`${url}/bg/api/wake`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: "{}",
  });

describe("createBgAgent: bg-agent composed as main.ts runs it", () => {
  it("BG_WORKER=on: the admin API's wake runs a pass of the app's own worker loop", async () => {
    const { url, agent: a } = await start({ BG_WORKER: "on", BG_TICK_SECONDS: "3600" }, {});
    expect(a.loop()).toBeDefined();
    const res = await wake(url);
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ accepted: true, done: true });
  });

  it("BG_WORKER=off: no loop runs, and the wake says so (503) instead of pretending", async () => {
    const { url, agent: a, log } = await start({ BG_WORKER: "off" }, {});
    expect(a.loop()).toBeUndefined();
    const res = await wake(url);
    expect(res.status).toBe(503);
    expect(log.lines.some((l) => /BG_WORKER=off/.test(l.msg))).toBe(true);
  });

  it("with no identity given, start reads the app's login from GitHub (one request, once)", async () => {
    const scope = nock("https://api.github.com").get("/app").reply(200, { id: 1, slug: "house-e" });
    const { log } = await start({ BG_WORKER: "off" });
    for (let i = 0; i < 200 && !log.lines.some((l) => /running as/.test(l.msg)); i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(log.lines.find((l) => /running as/.test(l.msg))?.msg).toBe("running as house-e[bot]");
    expect(scope.isDone()).toBe(true);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("stop closes the server and then the store", async () => {
    const { url, agent: a } = await start({ BG_WORKER: "off" }, {});
    await a.stop();
    agent = undefined;
    await expect(fetch(`${url}/ping`)).rejects.toThrow();
    await expect(a.store.tasks.counts()).rejects.toThrow();
  });
});

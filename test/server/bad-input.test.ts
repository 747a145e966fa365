import { request } from "node:http";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { sendJson } from "../../src/web/http.js";
import { WEBHOOK_PATH, deliver, seedConfig, startTestApp } from "../helpers/app-server.js";
import type { TestApp } from "../helpers/app-server.js";
import { REPO, pullRequestEvent } from "../helpers/payloads.js";

const nothingWritten = async (app: TestApp) => {
  expect(await app.store.deliveries.countsByEvent()).toEqual([]);
  expect(await app.store.tasks.list()).toEqual([]);
  expect(await app.store.activity.list()).toEqual([]);
};

/** Streams `size` bytes to the webhook in 64 KiB chunks; resolves with the status. */
function streamBody(app: TestApp, size: number, declareLength: boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${app.url}${WEBHOOK_PATH}`,
      {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-github-event": "push",
          "x-github-delivery": "big",
          "x-hub-signature-256": `sha256=${"0".repeat(64)}`,
          ...(declareLength ? { "content-length": String(size) } : {}),
        },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on("error", reject);
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let sent = 0;
    const write = (): void => {
      while (sent < size) {
        const n = Math.min(chunk.length, size - sent);
        sent += n;
        if (!req.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
          req.once("drain", write);
          return;
        }
      }
      req.end();
    };
    write();
  });
}

describe("bad input is a clear 4xx or a logged skip, never a 500", () => {
  let app: TestApp;
  beforeEach(async () => {
    app = await startTestApp({
      routes: [
        (req, res, url) =>
          url.pathname === "/bg/api/hello" ? sendJson(res, 200, { hello: true }) : false,
      ],
    });
  });
  afterEach(() => app.close());

  it("a bad signature is 401 and writes nothing", async () => {
    const r = await deliver(app, {
      name: "pull_request",
      payload: pullRequestEvent(),
      signature: `sha256=${"f".repeat(64)}`,
    });
    expect(r.status).toBe(401);
    const r2 = await deliver(app, {
      name: "pull_request",
      payload: pullRequestEvent(),
      signature: "sha1=abc",
    });
    expect(r2.status).toBe(401);
    await nothingWritten(app);
    expect(await app.store.repos.list()).toEqual([]);
  });

  it("a signature made with another secret is 401", async () => {
    const { Webhooks } = await import("@octokit/webhooks");
    const body = JSON.stringify(pullRequestEvent());
    const signature = await new Webhooks({ secret: "another-secret" }).sign(body);
    expect(
      (await deliver(app, { name: "pull_request", body, payload: null, signature })).status,
    ).toBe(401);
    await nothingWritten(app);
  });

  it("missing headers are 400", async () => {
    const res = await fetch(`${app.url}${WEBHOOK_PATH}`, { method: "POST", body: "{}" });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/X-GitHub-Event/);
    await nothingWritten(app);
  });

  it("malformed JSON, or JSON that is not an object, is 400", async () => {
    expect(
      (await deliver(app, { name: "pull_request", payload: null, body: "{not json" })).status,
    ).toBe(400);
    expect(
      (await deliver(app, { name: "pull_request", payload: null, body: "[1,2]" })).status,
    ).toBe(400);
    expect((await deliver(app, { name: "pull_request", payload: null, body: "null" })).status).toBe(
      400,
    );
    await nothingWritten(app);
  });

  it("an unknown event or action is a 2xx and creates nothing", async () => {
    await seedConfig(app.store, REPO, {});
    expect(
      (
        await deliver(app, {
          name: "made_up_event",
          payload: { action: "x", sender: { login: "bot[bot]", type: "Bot" } },
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await deliver(app, {
          name: "pull_request",
          payload: pullRequestEvent({ action: "teleported" }),
        })
      ).status,
    ).toBe(200);
    expect(await app.store.tasks.list()).toEqual([]);
  });

  it("a payload without an installation is a logged skip", async () => {
    const r = await deliver(app, {
      name: "pull_request",
      payload: pullRequestEvent({ installation: null }),
    });
    expect(r.status).toBe(200);
    expect(await app.store.tasks.list()).toEqual([]);
    expect(await app.store.repos.list()).toEqual([]);
    expect(app.log.lines.some((l) => /no installation/.test(l.msg))).toBe(true);
  });

  it("a payload missing the fields a handler needs is a logged skip", async () => {
    await seedConfig(app.store, REPO, {});
    const payload = { ...pullRequestEvent(), pull_request: { number: "seven" } };
    expect((await deliver(app, { name: "pull_request", payload })).status).toBe(200);
    expect(await app.store.tasks.list()).toEqual([]);
    expect(
      app.log.lines.some((l) => l.level === "warn" && /fields bg-agent needs/.test(l.msg)),
    ).toBe(true);
  });

  it("a repository bg-agent was removed from is a logged skip", async () => {
    await seedConfig(app.store, REPO, {});
    await deliver(app, {
      name: "installation_repositories",
      payload: {
        action: "removed",
        installation: { id: 1 },
        repositories_added: [],
        repositories_removed: [{ id: 42, full_name: REPO }],
      },
    });
    const r = await deliver(app, { name: "pull_request", payload: pullRequestEvent() });
    expect(r.status).toBe(200);
    expect(await app.store.tasks.list()).toEqual([]);
    expect(app.log.lines.some((l) => /removed from this repository/.test(l.msg))).toBe(true);
  });

  it("a body over 25 MB is 413, streamed or declared, and the server stays up", async () => {
    const size = 25 * 1024 * 1024 + 1;
    expect(await streamBody(app, size, false)).toBe(413);
    expect(await streamBody(app, size, true)).toBe(413);
    await nothingWritten(app);
    expect(await (await fetch(`${app.url}/ping`)).text()).toBe("PONG");
  });

  it("serves /ping, the landing page, plugged-in routes and 404s; GET on the webhook is 405", async () => {
    expect(await (await fetch(`${app.url}/ping`)).text()).toBe("PONG");
    const landing = await fetch(`${app.url}/`);
    expect(landing.status).toBe(200);
    expect(await landing.json()).toMatchObject({ name: "bg-agent", webhook: WEBHOOK_PATH });
    expect(await (await fetch(`${app.url}/bg/api/hello`)).json()).toEqual({ hello: true });
    expect((await fetch(`${app.url}/nope`)).status).toBe(404);
    expect((await fetch(`${app.url}${WEBHOOK_PATH}`)).status).toBe(405);
  });
});

import { afterEach, describe, expect, it } from "vitest";
import { memoryLogger } from "../../src/log.js";
import { createServer } from "../../src/server.js";
import type { BgServer } from "../../src/server.js";
import type { Store } from "../../src/store/index.js";
import { StoreUnavailableError } from "../../src/store/unavailable.js";
import { startTestApp } from "../helpers/app-server.js";
import { memoryStore } from "../helpers/store.js";

/** The server over `store` with a receiver that accepts nothing (only /readyz and /ping are asked). */
async function serve(store: Store, readyTimeoutMs = 2000): Promise<BgServer> {
  const server = createServer({
    receiver: { webhooks: { verify: async () => false }, receive: async () => {} },
    store,
    log: memoryLogger(),
    readyTimeoutMs,
  });
  await server.listen(0, "127.0.0.1");
  return server;
}

const get = async (server: BgServer, path: string) => {
  const res = await fetch(`${server.url()}${path}`);
  return { status: res.status, retryAfter: res.headers.get("retry-after"), body: await res.text() };
};

describe("GET /readyz: ready when the store answers; /ping: alive", () => {
  const opened: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const f of opened.splice(0)) await f();
  });

  it("SQLite is ready once the app is up", async () => {
    const app = await startTestApp();
    opened.push(() => app.close());
    const res = await fetch(`${app.url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
  });

  it("a store that fails its ping, or does not answer within the limit, is not ready (503); /ping still answers", async () => {
    const base = await memoryStore();
    opened.push(() => base.close());
    let ping: () => Promise<void> = () =>
      Promise.reject(
        new StoreUnavailableError("the PostgreSQL database is unavailable: ECONNREFUSED"),
      );
    const store: Store = { ...base, ping: () => ping() };
    const server = await serve(store, 100);
    opened.push(() => server.close());

    const refused = await get(server, "/readyz");
    expect(refused).toMatchObject({ status: 503, retryAfter: expect.stringMatching(/^\d+$/) });
    expect(JSON.parse(refused.body)).toEqual({
      ok: false,
      error: "the PostgreSQL database is unavailable: ECONNREFUSED",
    });
    ping = () => new Promise(() => {}); // never answers
    const silent = await get(server, "/readyz");
    expect(silent.status).toBe(503);
    expect(JSON.parse(silent.body)).toMatchObject({
      error: "the database did not answer within 100 ms",
    });
    expect(await get(server, "/ping")).toMatchObject({ status: 200, body: "PONG" });
    ping = () => Promise.resolve();
    expect((await get(server, "/readyz")).status).toBe(200);
  });
});

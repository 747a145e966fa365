import { request } from "node:http";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { WEBHOOK_PATH, startTestApp } from "../helpers/app-server.js";
import type { TestApp } from "../helpers/app-server.js";

/**
 * Opens a webhook request that declares a 1 MB body and never sends a byte of it; resolves with
 * the status the server answers on the headers alone (or 0 if the socket closed without one).
 */
function headersOnly(app: TestApp, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${app.url}${WEBHOOK_PATH}`, {
      method: "POST",
      headers: { "content-type": "application/json", "content-length": "1048576", ...headers },
    });
    req.on("response", (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
      req.destroy();
    });
    req.on("error", (e: NodeJS.ErrnoException) =>
      e.code === "ECONNRESET" ? resolve(0) : reject(e),
    );
    req.flushHeaders(); // the headers go out; the body never does
  });
}

describe("unsigned requests are refused on their headers, before the body is read", () => {
  let app: TestApp;
  beforeEach(async () => {
    app = await startTestApp();
  });
  afterEach(() => app.close());

  const signed = {
    "x-github-event": "push",
    "x-github-delivery": "d-1",
    "x-hub-signature-256": `sha256=${"0".repeat(64)}`,
  };

  it("no X-Hub-Signature-256: 400 without waiting for the body; nothing written", async () => {
    const { "x-hub-signature-256": _, ...unsigned } = signed;
    expect(await headersOnly(app, unsigned)).toBe(400);
    expect(await app.store.deliveries.countsByEvent()).toEqual([]);
  });

  it("no X-GitHub-Event or X-GitHub-Delivery: 400 without waiting for the body", async () => {
    const { "x-github-event": _e, ...noEvent } = signed;
    const { "x-github-delivery": _d, ...noDelivery } = signed;
    expect(await headersOnly(app, noEvent)).toBe(400);
    expect(await headersOnly(app, noDelivery)).toBe(400);
  });

  it("a signature that is not sha256=<64 hex>: 401 without waiting for the body", async () => {
    expect(await headersOnly(app, { ...signed, "x-hub-signature-256": "sha1=abc" })).toBe(401);
  });

  it("the server keeps answering afterwards", async () => {
    await headersOnly(app, {});
    const res = await fetch(`${app.url}/ping`);
    expect(await res.text()).toBe("PONG");
  });
});

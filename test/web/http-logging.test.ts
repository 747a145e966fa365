import { generateKeyPairSync } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { pino } from "pino";
import { Probot, Server } from "probot";
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../src/log.js";
import { LOG_REDACT } from "../../src/web/http-logging.js";
import { createWebRoutes } from "../../src/web/routes.js";
import { memoryStore } from "../helpers/store.js";
import { TOKEN } from "./serve.js";

const freePort = async (): Promise<number> => {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
};

/** Probot's Server with its HTTP request log captured; the dashboard routes added as a handler. */
async function probotServer(redact: boolean) {
  const lines: string[] = [];
  const log = pino(
    { level: "info", ...(redact ? { redact: LOG_REDACT } : {}) },
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    }),
  );
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const store = await memoryStore();
  const routes = createWebRoutes({ store, adminToken: TOKEN, log: silentLogger });
  const port = await freePort();
  const server = new Server({
    Probot: Probot.defaults({
      appId: 1,
      privateKey: privateKey.export({ type: "pkcs1", format: "pem" }).toString(),
      secret: "s",
    }),
    log,
    port,
    host: "127.0.0.1",
  });
  server.addHandler(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    for (const r of routes) if (await r(req, res, url)) return true;
    return false;
  });
  await server.start();
  return { lines, url: `http://127.0.0.1:${port}`, stop: () => server.stop() };
}

describe("the HTTP request log", () => {
  it("keeps the admin token out of Probot's request log when the logger redacts LOG_REDACT", async () => {
    const s = await probotServer(true);
    try {
      const res = await fetch(`${s.url}/bg/api/status`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(res.status).toBe(200);
      await new Promise((r) => setTimeout(r, 50));
      const text = s.lines.join("");
      expect(text).toContain("GET /bg/api/status 200");
      expect(text).not.toContain(TOKEN);
      expect(text).toContain('"authorization":"[redacted]"');
    } finally {
      await s.stop();
    }
  });

  it("(why it is needed) Probot's default request log includes the Authorization header", async () => {
    const s = await probotServer(false);
    try {
      await fetch(`${s.url}/bg/api/status`, { headers: { authorization: `Bearer ${TOKEN}` } });
      await new Promise((r) => setTimeout(r, 50));
      expect(s.lines.join("")).toContain(TOKEN);
    } finally {
      await s.stop();
    }
  });
});

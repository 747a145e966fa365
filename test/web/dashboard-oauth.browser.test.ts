import { mkdirSync } from "node:fs";
import { createServer } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { memoryLogger } from "../../src/log.js";
import type { Store } from "../../src/store/index.js";
import { HAVE_CHROMIUM, openChromium } from "../helpers/chromium.js";
import type { BrowserPage } from "../helpers/chromium.js";
import { memoryStore } from "../helpers/store.js";
import type { Served } from "./serve.js";
import { seed, serveWeb } from "./serve.js";

const OUT = "test-results";
const CLIENT_ID = "Iv1.browser0123456789";
const USER_TOKEN = "ghu_BrowserUserTokenNeverShown012345";

/**
 * A stand-in for GitHub on loopback (the browser cannot reach github.com here, and nock does not
 * see chromium's requests): the authorize page sends the browser straight back with a code, the
 * code exchange gives a user token, and the API says who the user is and which installations
 * they can access.
 */
async function fakeGitHub(): Promise<{ url: string; calls: string[]; close(): Promise<void> }> {
  const calls: string[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    calls.push(`${req.method} ${url.pathname}`);
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    const authed = req.headers.authorization === `Bearer ${USER_TOKEN}`;
    if (url.pathname === "/login/oauth/authorize") {
      if (url.searchParams.get("client_id") !== CLIENT_ID) return json(404, {});
      const back = new URL(url.searchParams.get("redirect_uri")!);
      back.searchParams.set("code", "browser-code");
      back.searchParams.set("state", url.searchParams.get("state")!);
      res.writeHead(302, { location: back.toString() });
      res.end();
      return;
    }
    if (url.pathname === "/login/oauth/access_token" && req.method === "POST") {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        const b = JSON.parse(body) as { code: string; client_id: string };
        if (b.code === "browser-code" && b.client_id === CLIENT_ID)
          json(200, { access_token: USER_TOKEN, token_type: "bearer", scope: "" });
        else json(200, { error: "bad_verification_code" });
      });
      return;
    }
    if (url.pathname === "/api/v3/user" && authed) return json(200, { login: "octocat", id: 1 });
    if (url.pathname === "/api/v3/user/installations" && authed)
      return json(200, { total_count: 1, installations: [{ id: 1, account: { login: "acme" } }] });
    json(404, { message: "Not Found" });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe.skipIf(!HAVE_CHROMIUM)("dashboard sign-in with GitHub in Debian's chromium", () => {
  let store: Store;
  let served: Served;
  let github: Awaited<ReturnType<typeof fakeGitHub>>;
  let browser: BrowserPage;
  let context: BrowserContext;
  let page: Page;
  const logs: { level: string; msg: string; obj?: object }[] = [];
  let consoleLines: string[] = [];

  beforeAll(async () => {
    mkdirSync(OUT, { recursive: true });
    store = await memoryStore();
    await seed(store, Date.now());
    github = await fakeGitHub();
    served = await serveWeb({
      store,
      log: memoryLogger(logs),
      oauth: {
        clientId: CLIENT_ID,
        clientSecret: "browser-client-secret-0123456789",
        sessionSecret: "browser-session-secret-0123456789abcdef",
        githubUrl: github.url,
        apiUrl: `${github.url}/api/v3`,
      },
    });
    browser = await openChromium("dashboard-oauth");
    ({ context, page, consoleLines } = browser);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await served?.close();
    await github?.close();
    await store?.close();
  });

  it("offers 'Sign in with GitHub' next to the token form", async () => {
    await page.goto(`${served.url}/bg`);
    await page.waitForSelector("[data-testid=github-sign-in]");
    expect(await page.textContent("[data-testid=github-sign-in]")).toBe("Sign in with GitHub");
    expect(await page.isVisible("#login-form")).toBe(true);
    expect(await page.isVisible("#app")).toBe(false);
    await page.screenshot({ path: `${OUT}/dashboard-sign-in.png` });
  });

  it("signs in through GitHub and lands on the dashboard at /bg, with an HttpOnly cookie", async () => {
    await page.click("[data-testid=github-sign-in]");
    await page.waitForSelector("[data-testid=signed-in-as]:visible");
    expect(await page.textContent("[data-testid=signed-in-as]")).toBe("Signed in as @octocat");
    expect(page.url()).toBe(`${served.url}/bg`);
    await page.waitForSelector("[data-testid=stat-pending]");
    expect(await page.textContent("[data-testid=stat-pending]")).toBe("6");
    expect(github.calls).toEqual([
      "GET /login/oauth/authorize",
      "POST /login/oauth/access_token",
      "GET /api/v3/user",
      "GET /api/v3/user/installations",
    ]);
    const cookies = await context.cookies(`${served.url}/bg`);
    const session = cookies.find((c) => c.name === "bg_session");
    expect(session).toMatchObject({ httpOnly: true, sameSite: "Lax", path: "/bg" });
    expect(await page.evaluate(() => document.cookie)).not.toContain("bg_session");
    expect(await page.evaluate(() => sessionStorage.getItem("bg-agent.adminToken"))).toBeNull();
  });

  it("pauses with the session (the page sends the CSRF header) and names the login", async () => {
    await page.click("#pause-all");
    await page.waitForFunction(
      () => document.querySelector("[data-testid=global-state]")?.textContent === "All paused",
    );
    expect(await page.textContent("[data-testid=pause-banner]")).toMatch(
      /^All repositories are paused by octocat/,
    );
    expect((await store.audit.list({ limit: 1 }))[0]).toMatchObject({
      actor: "octocat",
      command: "pause",
    });
    await page.click("#resume-all");
    await page.waitForFunction(
      () => document.querySelector("[data-testid=global-state]")?.textContent === "Running",
    );
    await page.screenshot({ path: `${OUT}/dashboard-signed-in.png`, fullPage: true });
  });

  it("signs out: the form is back, and a reload does not sign in again", async () => {
    await page.click("#sign-out");
    await page.waitForSelector("#login-form:visible");
    await expect
      .poll(async () =>
        (await context.cookies(`${served.url}/bg`)).some((c) => c.name === "bg_session"),
      )
      .toBe(false);
    await page.reload();
    await page.waitForSelector("[data-testid=github-sign-in]:visible");
    expect(await page.isVisible("#app")).toBe(false);
    const logged = JSON.stringify(logs);
    expect(logged).not.toContain(USER_TOKEN);
    expect(consoleLines.join("\n")).not.toContain(USER_TOKEN);
    expect(consoleLines.filter((l) => l.startsWith("pageerror"))).toEqual([]);
  });
});

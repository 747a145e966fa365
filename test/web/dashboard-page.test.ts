import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { memoryLogger } from "../../src/log.js";
import type { Store } from "../../src/store/index.js";
import { DASHBOARD_CLIENT_JS } from "../../src/web/dashboard-client.js";
import { memoryStore } from "../helpers/store.js";
import type { Served } from "./serve.js";
import { HTML_REPO, seed, serveWeb } from "./serve.js";

describe("the /bg page", () => {
  let store: Store;
  let served: Served;
  beforeEach(async () => {
    store = await memoryStore();
    await seed(store, Date.now());
    served = await serveWeb({ store, log: memoryLogger() });
  });
  afterEach(async () => {
    await served.close();
    await store.close();
  });

  it("serves one self-contained page under a strict nonce-based CSP", async () => {
    for (const path of ["/bg", "/bg/"]) {
      const res = await fetch(served.url + path);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
      const csp = res.headers.get("content-security-policy")!;
      const nonce = /script-src 'nonce-([A-Za-z0-9+/=]+)'/.exec(csp)?.[1];
      expect(nonce).toBeTruthy();
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("connect-src 'self'");
      expect(csp).toContain(`style-src 'nonce-${nonce}'`);
      expect(csp).not.toContain("unsafe-inline");
      expect(csp).not.toContain("unsafe-eval");
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(res.headers.get("referrer-policy")).toBe("no-referrer");
      const html = await res.text();
      expect(html).toContain(`<script nonce="${nonce}">`);
      expect(html).toContain(`<style nonce="${nonce}">`);
      // Nothing loaded from elsewhere: no external scripts, styles, fonts or images.
      expect(html).not.toMatch(/<script[^>]+src=/);
      expect(html).not.toMatch(/<link[^>]+rel="stylesheet"/);
      expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    }
    const a = (await fetch(`${served.url}/bg`)).headers.get("content-security-policy");
    const b = (await fetch(`${served.url}/bg`)).headers.get("content-security-policy");
    expect(a).not.toBe(b);
  });

  it("holds no store data: without a token there is only the sign-in form", async () => {
    const html = await (await fetch(`${served.url}/bg`)).text();
    expect(html).not.toContain("acme");
    expect(html).not.toContain("evil");
    expect(html).toContain('id="login-form" method="post"');
    expect(html).toMatch(/<div id="app" hidden>/);
  });

  it("puts API data in the page only as text (the HTML repository name stays text)", () => {
    expect(() => new Function(DASHBOARD_CLIENT_JS)).not.toThrow();
    for (const sink of [
      "innerHTML",
      "outerHTML",
      "insertAdjacentHTML",
      "document.write",
      "eval(",
      "new Function",
    ]) {
      expect(DASHBOARD_CLIENT_JS, sink).not.toContain(sink);
    }
    // The token goes in the Authorization header, from sessionStorage; never into a URL or localStorage.
    expect(DASHBOARD_CLIENT_JS).toContain('authorization: "Bearer " + token()');
    expect(DASHBOARD_CLIENT_JS).not.toContain("localStorage");
    expect(DASHBOARD_CLIENT_JS).not.toMatch(/[?&]token=/);
    expect(HTML_REPO).toContain("<img");
  });

  it("answers 405 to other methods", async () => {
    expect((await fetch(`${served.url}/bg`, { method: "POST" })).status).toBe(405);
    expect((await fetch(`${served.url}/bg`, { method: "HEAD" })).status).toBe(200);
  });
});

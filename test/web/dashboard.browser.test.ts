import { mkdirSync } from "node:fs";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { memoryLogger } from "../../src/log.js";
import type { Store } from "../../src/store/index.js";
import type { StatusView } from "../../src/web/status.js";
import { CHROMIUM, HAVE_CHROMIUM, openChromium } from "../helpers/chromium.js";
import type { BrowserPage } from "../helpers/chromium.js";
import { memoryStore } from "../helpers/store.js";
import type { Served, Seeded } from "./serve.js";
import { HTML_REPO, seed, serveWeb, TOKEN } from "./serve.js";

if (!HAVE_CHROMIUM) {
  console.warn(
    `SKIPPED dashboard browser test: ${CHROMIUM} is missing (install it with: apt-get install -y chromium)`,
  );
}
const OUT = "test-results";

const usd = (n: number): string =>
  n === 0 ? "$0.00" : Math.abs(n) < 0.01 ? `$${n.toFixed(4)}` : `$${n.toFixed(2)}`;

describe.skipIf(!HAVE_CHROMIUM)("dashboard in Debian's chromium", () => {
  let store: Store;
  let served: Served;
  let seeded: Seeded;
  let browser: BrowserPage;
  let page: Page;
  const logs: { level: string; msg: string; obj?: object }[] = [];
  let consoleLines: string[] = [];

  const apiStatus = async (): Promise<StatusView> =>
    (await (
      await fetch(`${served.url}/bg/api/status`, { headers: { authorization: `Bearer ${TOKEN}` } })
    ).json()) as StatusView;

  beforeAll(async () => {
    mkdirSync(OUT, { recursive: true });
    store = await memoryStore();
    seeded = await seed(store, Date.now());
    served = await serveWeb({ store, log: memoryLogger(logs) });
    browser = await openChromium("dashboard");
    ({ page, consoleLines } = browser);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await served?.close();
    await store?.close();
  });

  it("shows only the token form without a token, and the API refuses the page", async () => {
    await page.goto(`${served.url}/bg`);
    await expect.poll(() => page.isVisible("#login-form")).toBe(true);
    expect(await page.isVisible("#app")).toBe(false);
    expect(await page.isVisible("#controls")).toBe(false);
    const text = await page.innerText("body");
    expect(text).toContain("Admin token");
    expect(text).not.toContain("acme");
    const status = await page.evaluate(async () => (await fetch("/bg/api/status")).status);
    expect(status).toBe(401);
  });

  it("rejects a wrong token with a message and keeps the form", async () => {
    await page.fill("#token", "definitely-not-the-admin-token");
    await page.click("#login-form button[type=submit]");
    await page.waitForFunction(() =>
      document.getElementById("login-error")?.textContent?.includes("not accepted"),
    );
    expect(await page.isVisible("#login-form")).toBe(true);
    expect(await page.evaluate(() => sessionStorage.getItem("bg-agent.adminToken"))).toBeNull();
  });

  it("shows numbers that match the store once the token is entered", async () => {
    await page.fill("#token", TOKEN);
    await page.click("#login-form button[type=submit]");
    await page.waitForSelector("[data-testid=stat-pending]");
    const s = await apiStatus();
    const text = async (sel: string) => (await page.textContent(sel))?.trim();
    expect(await text("[data-testid=stat-pending]")).toBe(String(s.queue.byStatus.pending));
    expect(s.queue.byStatus.pending).toBe(6);
    expect(await text("[data-testid=stat-running]")).toBe("1");
    expect(await text("[data-testid=stat-failed]")).toBe("1");
    expect(await text("[data-testid=queue-tech_debt_analysis-pending]")).toBe("3");
    expect(await text("[data-testid=queue-tech_debt_analysis-done]")).toBe("2");
    expect(await text("[data-testid=queue-automerge-pending]")).toBe("2");
    expect(await text("[data-testid=queue-automerge-running]")).toBe("1");
    expect(await text("[data-testid=queue-fix-failed]")).toBe("1");
    expect(await text("[data-testid=queue-total-pending]")).toBe("6");
    // Spend: today 0.42 + 0.08; the month as the store sums it (yesterday may be last month).
    const month = (await store.stats.spendByRepo(seeded.now)).reduce((n, r) => n + r.monthUsd, 0);
    expect(await text("[data-testid=stat-spend-today]")).toBe("$0.50");
    expect(await text("[data-testid=stat-spend-month]")).toBe(usd(month));
    expect(await text("[data-testid=spend-month]")).toBe(usd(month));
    const api = page.locator('tr[data-repo="acme/api"]');
    expect(await api.locator("[data-testid=repo-pending]").textContent()).toBe("3");
    expect(await api.locator("[data-testid=repo-spend-today]").textContent()).toBe("$0.42");
    expect(await api.innerText()).toContain("active");
    const web = page.locator('tr[data-repo="acme/web"]');
    expect(await web.innerText()).toMatch(/waiting[\s\S]*people active \(octocat\)/);
    // A run row: status, cost and a link to the pull request.
    const merged = page.locator(`tr[data-run-id="${seeded.runIds[2]}"]`);
    expect(await merged.innerText()).toContain("merged");
    expect(await merged.locator("a").getAttribute("href")).toBe(
      "https://github.com/acme/api/pull/5",
    );
    const analysis = page.locator(`tr[data-run-id="${seeded.runIds[0]}"]`);
    expect(await analysis.locator("[data-testid=run-cost]").textContent()).toBe("$0.21");
    expect(await analysis.innerText()).toContain("25%");
    // The chart has one bar per day, today's holding today's spend.
    const bars = page.locator("[data-testid=spend-chart] rect");
    expect(await bars.count()).toBe(30);
    expect(Number(await bars.nth(29).getAttribute("data-cost"))).toBeCloseTo(0.5, 10);
    // Automerge and schedules.
    expect(await page.innerText("[data-testid=automerge-table]")).toContain(
      "needs 1 approving review, has 0",
    );
    expect(await page.innerText("[data-testid=schedules-table]")).toContain("digest");
    expect(await page.innerText("body")).not.toContain("SECRET");
  });

  it("shows a repository name with HTML in it as text", async () => {
    const cell = page.locator(".repo-name").filter({ hasText: "evil" });
    expect(await cell.textContent()).toBe(HTML_REPO);
    expect(await page.locator("#repos img, #repos b").count()).toBe(0);
    expect(
      await page.evaluate(() => (window as unknown as { __xss?: number }).__xss),
    ).toBeUndefined();
    await page.screenshot({ path: `${OUT}/dashboard.png`, fullPage: true });
  });

  it("pauses all repositories from the button, visible through the API and on the page", async () => {
    expect((await apiStatus()).global.paused).toBe(false);
    await page.selectOption("#pause-for", "4h");
    await page.click("#pause-all");
    await page.waitForFunction(
      () => document.querySelector("[data-testid=global-state]")?.textContent === "All paused",
    );
    const s = await apiStatus();
    expect(s.global.paused).toBe(true);
    expect(s.global.by).toBe("admin");
    expect(s.global.until).toBeGreaterThan(Date.now() + 3.9 * 3_600_000);
    expect(s.repos.every((r) => r.state === "paused")).toBe(true);
    expect(await page.isVisible("[data-testid=pause-banner]")).toBe(true);
    expect(await page.textContent("[data-testid=pause-banner]")).toMatch(
      /^All repositories are paused by admin until/,
    );
    expect(await page.locator('tr[data-repo="acme/api"]').innerText()).toContain("paused");
    expect(await page.isVisible("#resume-all")).toBe(true);
    await page.screenshot({ path: `${OUT}/dashboard-paused.png`, fullPage: true });
  });

  it("pauses one repository from its row, and follows changes made elsewhere by polling", async () => {
    await page.click("#resume-all");
    await page.waitForFunction(
      () => document.querySelector("[data-testid=global-state]")?.textContent === "Running",
    );
    await page.selectOption("#pause-for", "");
    await page.locator('tr[data-repo="acme/api"] button[data-action=pause]').click();
    await page.waitForSelector('tr[data-repo="acme/api"] button[data-action=resume]');
    expect(await store.activity.manualPause("acme/api")).toMatchObject({
      pausedBy: "admin",
      pausedUntil: null,
    });
    expect((await apiStatus()).repos.find((r) => r.repo === "acme/api")!.state).toBe("paused");
    // Resumed through the API, not the page: the page notices on its next poll, without a reload.
    const nav = await page.evaluate(() => performance.getEntriesByType("navigation").length);
    await fetch(`${served.url}/bg/api/resume`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ repo: "acme/api" }),
    });
    await page.waitForSelector('tr[data-repo="acme/api"] button[data-action=pause]', {
      timeout: 15_000,
    });
    expect(await page.evaluate(() => performance.getEntriesByType("navigation").length)).toBe(nav);
  });

  it("loads older runs on demand", async () => {
    await store.tx(async (t) => {
      for (let i = 0; i < 120; i++)
        await t.runs.record({
          repo: "acme/api",
          kind: "automerge",
          ref: `pr:${100 + i}`,
          status: "waiting",
        });
    });
    await page.waitForFunction(
      () => document.getElementById("runs-count")?.textContent === "Showing 50 of 125 runs",
      undefined,
      {
        timeout: 15_000,
      },
    );
    await page.click("#runs-older");
    await page.waitForFunction(
      () => document.getElementById("runs-count")?.textContent === "Showing 100 of 125 runs",
    );
    await page.click("#runs-older");
    await page.waitForFunction(
      () => document.getElementById("runs-count")?.textContent === "Showing 125 of 125 runs",
    );
    expect(await page.isVisible("#runs-older")).toBe(false);
    expect(await page.locator(`tr[data-run-id="${seeded.runIds[0]}"]`).count()).toBe(1);
  });

  it("never puts the token in the URL or the server log, and signs out", async () => {
    expect(page.url()).toBe(`${served.url}/bg`);
    expect(page.url()).not.toContain(TOKEN);
    const logged = JSON.stringify(logs);
    expect(logged).toContain("/bg/api/status");
    expect(logged).not.toContain(TOKEN);
    expect(consoleLines.join("\n")).not.toContain(TOKEN);
    expect(consoleLines.filter((l) => l.startsWith("pageerror"))).toEqual([]);
    await page.click("#sign-out");
    expect(await page.isVisible("#login-form")).toBe(true);
    expect(await page.evaluate(() => sessionStorage.getItem("bg-agent.adminToken"))).toBeNull();
  });

  it("shows a useful empty state for an empty store", async () => {
    const empty = await memoryStore();
    const s = await serveWeb({ store: empty, log: memoryLogger() });
    try {
      await page.goto(`${s.url}/bg`);
      await page.fill("#token", TOKEN);
      await page.click("#login-form button[type=submit]");
      await page.waitForSelector("[data-testid=empty-repos]");
      expect(await page.innerText("[data-testid=empty-repos]")).toContain("No repositories yet");
      expect(await page.innerText("[data-testid=runs-table]")).toContain("No runs yet");
      expect(await page.textContent("[data-testid=spend-chart]")).toContain(
        "No LLM spend in the last 30 days",
      );
      expect(await page.textContent("[data-testid=stat-pending]")).toBe("0");
      await page.screenshot({ path: `${OUT}/dashboard-empty.png`, fullPage: true });
    } finally {
      await s.close();
      await empty.close();
    }
  });
});

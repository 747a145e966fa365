import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { memoryLogger } from "../../src/log.js";
import type { Store } from "../../src/store/index.js";
import { CHROMIUM, HAVE_CHROMIUM, openChromium } from "../helpers/chromium.js";
import type { BrowserPage } from "../helpers/chromium.js";
import { memoryStore } from "../helpers/store.js";
import type { Served } from "./serve.js";
import { serveWeb, TOKEN } from "./serve.js";
import { seedSchedules } from "./seed-schedules.js";

if (!HAVE_CHROMIUM) {
  console.warn(`SKIPPED dashboard tasks browser test: ${CHROMIUM} is missing`);
}

describe.skipIf(!HAVE_CHROMIUM)("dashboard prompt tasks in Debian's chromium", () => {
  let store: Store;
  let served: Served;
  let browser: BrowserPage;
  let page: Page;
  let ids: Record<string, number>;

  beforeAll(async () => {
    store = await memoryStore();
    ids = await seedSchedules(store, Date.now());
    served = await serveWeb({ store, log: memoryLogger([]) });
    browser = await openChromium("dashboard-tasks");
    ({ page } = browser);
    await page.goto(`${served.url}/bg`);
    await page.fill("#token", TOKEN);
    await page.click("#login-form button[type=submit]");
    await page.waitForSelector("[data-testid=schedules-table] tr[data-task]");
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await served?.close();
    await store?.close();
  });

  const row = (name: string) =>
    page.locator(`[data-testid=schedules-table] tr[data-task="${name}"]`);

  it("shows every task in every state, with the reason and a link to the last result", async () => {
    for (const [name, status] of [
      ["digest", "active"],
      ["off", "paused"],
      ["broken", "failed"],
      ["finished", "done"],
      ["idea", "proposed"],
    ] as const)
      expect(await row(name).getAttribute("data-status"), name).toBe(status);
    expect(await row("off").innerText()).toContain("disabled in config (enabled: false)");
    expect(await row("broken").innerText()).toContain("failed twice in a row: boom");
    expect(await row("digest").locator("a").getAttribute("href")).toBe(
      "https://github.com/acme/api/issues/9#issuecomment-1",
    );
    // Buttons by state: a proposed task cannot run; a config-disabled one is resumed in config.
    expect(await row("idea").locator("button").count()).toBe(0);
    expect(await row("off").locator("button[data-action=task-resume]").count()).toBe(0);
    expect(await row("broken").locator("button[data-action=task-resume]").count()).toBe(1);
  });

  it("pause, resume and run now act on the store, once each, and are audited", async () => {
    await row("digest").locator("button[data-action=task-pause]").click();
    await expect.poll(() => row("digest").getAttribute("data-status")).toBe("paused");
    expect((await store.schedules.byId(ids.digest!))?.statusReason).toBe(
      "paused by admin (the dashboard)",
    );
    expect(await row("digest").innerText()).toContain("paused by admin");

    await row("digest").locator("button[data-action=task-resume]").click();
    await expect.poll(() => row("digest").getAttribute("data-status")).toBe("active");
    expect((await store.schedules.byId(ids.digest!))?.status).toBe("active");

    await row("digest").locator("button[data-action=task-run]").click();
    await expect
      .poll(() => page.textContent("#notice"))
      .toMatch(/Queued digest \(acme\/api\): prompt_task \d+ queued/);
    // Queued once (done twice: 0), for the admin who asked.
    expect(await store.tasks.list({ repo: "acme/api", type: "prompt_task" })).toEqual([
      expect.objectContaining({ payload: { name: "digest", manual: true, requestedBy: "admin" } }),
    ]);
    expect(
      (await store.audit.list({ repo: "acme/api" })).map((e) => [e.command, e.target]),
    ).toEqual([
      ["run", "task:digest"],
      ["resume", "task:digest"],
      ["pause", "task:digest"],
    ]);
  });
});

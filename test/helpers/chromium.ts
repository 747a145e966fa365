import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { chromium } from "playwright-core";

/** Debian's chromium (`apt-get install -y chromium`; .ci/run installs it where missing). */
export const CHROMIUM = "/usr/bin/chromium";
export const HAVE_CHROMIUM = existsSync(CHROMIUM);
/** The headless flags that work offline: nothing is downloaded, nothing phones home. */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export interface BrowserPage {
  context: BrowserContext;
  page: Page;
  /** The page's console lines and uncaught errors (`pageerror: …`). */
  consoleLines: string[];
  close(): Promise<void>;
}

/** A fresh profile and one page, its console collected. */
export async function openChromium(name: string): Promise<BrowserPage> {
  const profile = mkdtempSync(join(tmpdir(), `bg-${name}-chromium-`));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    headless: true,
    viewport: { width: 1440, height: 900 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const consoleLines: string[] = [];
  page.on("console", (m) => consoleLines.push(m.text()));
  page.on("pageerror", (e) => consoleLines.push(`pageerror: ${e.message}`));
  return {
    context,
    page,
    consoleLines,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

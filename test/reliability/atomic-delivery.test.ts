import { copyFileSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import nock from "nock";
import { afterEach, describe, expect, it } from "vitest";
import { openStore } from "../../src/store/index.js";
import type { Store } from "../../src/store/index.js";
import { deliver, seedConfig, startTestApp } from "../helpers/app-server.js";
import type { TestApp } from "../helpers/app-server.js";
import { pullRequestEvent } from "../helpers/payloads.js";
import { nockInstallationToken, nockRawConfig } from "../helpers/github-nock.js";

const COLD = "octo/cold";
const WARM = "octo/warm";

const token = nockInstallationToken;

/** The cold repository's config file, answered after `delayMs`. */
const configFile = (delayMs: number) =>
  nockRawConfig("automerge:\n  method: merge\n", COLD, delayMs);

/** What a crash leaves on disk: the database and its WAL as they are now (committed frames only count). */
function crashImage(path: string, into: string): string {
  const copy = join(into, "crashed.db");
  copyFileSync(path, copy);
  if (existsSync(`${path}-wal`)) copyFileSync(`${path}-wal`, `${copy}-wal`);
  return copy;
}

const tasksFor = async (store: Store, repo: string) =>
  (await store.tasks.list()).filter((t) => t.repo === repo && t.source === "pr:7");

describe("a crash never loses a delivery", () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  it("injects: a crash while a delivery awaits a slow config fetch and another delivery's commit flushed (1 time) — lost 0, done twice 0", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bg-atomic-"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, "store.db");
    const store = await openStore({ path });
    const app: TestApp = await startTestApp({ store });
    cleanup.push(async () => {
      await app.close();
      await store.close();
    });
    await seedConfig(store, WARM, {});
    token();
    configFile(400);
    // A: cold cache, its config read from GitHub takes 400 ms.
    const slow = deliver(app, {
      name: "pull_request",
      payload: pullRequestEvent({ repo: COLD }),
      id: "d-slow",
    });
    await new Promise((r) => setTimeout(r, 50));
    // B: warm cache, finishes (and its group commits) while A still waits for GitHub.
    const fast = await deliver(app, {
      name: "pull_request",
      payload: pullRequestEvent({ repo: WARM }),
      id: "d-fast",
    });
    expect(fast.status).toBe(200);
    // The process dies now: only what was committed survives.
    const image = crashImage(path, dir);
    expect((await slow).status).toBe(200); // (the dead process's answer never reached GitHub)
    expect(nock.pendingMocks()).toEqual([]);

    const restarted = await openStore({ path: image });
    const again = await startTestApp({ store: restarted });
    cleanup.push(async () => {
      await again.close();
      await restarted.close();
    });
    expect(await tasksFor(restarted, WARM)).toHaveLength(1); // B was acknowledged: it survived
    // GitHub redelivers both (A was never acknowledged).
    token();
    configFile(0);
    const redeliveredSlow = await deliver(again, {
      name: "pull_request",
      payload: pullRequestEvent({ repo: COLD }),
      id: "d-slow",
    });
    const redeliveredFast = await deliver(again, {
      name: "pull_request",
      payload: pullRequestEvent({ repo: WARM }),
      id: "d-fast",
    });
    expect(redeliveredSlow.status).toBe(200);
    expect(redeliveredSlow.body.duplicate).toBeUndefined(); // processed, not taken for a duplicate
    expect(redeliveredFast.body.duplicate).toBe(true);
    // lost: 0 — A has its task; done twice: 0 — one task each.
    expect(await tasksFor(restarted, COLD)).toHaveLength(1);
    expect(await tasksFor(restarted, WARM)).toHaveLength(1);
    expect(await restarted.deliveries.has("d-slow")).toBe(true);
    expect(nock.pendingMocks()).toEqual([]);
  });
});

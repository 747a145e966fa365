import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { openSqlite } from "../../src/store/db.js";
import { TaskStore } from "../../src/store/tasks.js";
import { GroupCommit } from "../../src/store/group-commit.js";
import { openStore } from "../../src/store/index.js";
import { deliver, seedConfig, startTestApp } from "../helpers/app-server.js";
import type { TestApp } from "../helpers/app-server.js";
import { REPO, pullRequestEvent } from "../helpers/payloads.js";

describe("the answer follows the commit", () => {
  let app: TestApp;
  beforeEach(async () => {
    app = await startTestApp();
    await seedConfig(app.store, REPO, {});
  });
  afterEach(() => app.close());

  it("answers 2xx only after the task is committed: another connection sees it when the answer arrives", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bg-commit-"));
    const path = join(dir, "store.db");
    const store = await openStore({ path, synchronous: "FULL" });
    // A slow group: commits 300 ms after the first delivery finishes while another is in flight.
    const group = new GroupCommit(store, { maxWaitMs: 300 });
    const fileApp = await startTestApp({ store, groupCommit: group });
    await seedConfig(fileApp.store, REPO, {});
    const other = await openSqlite({ path });
    const committed = () =>
      other
        .prepare("SELECT COUNT(*) AS n FROM tasks WHERE source = 'pr:7' AND status = 'pending'")
        .get() as { n: number };
    const seenAtAnswer: number[] = [];
    try {
      group.join(); // a delivery still in flight elsewhere keeps the group open
      const single = await deliver(fileApp, {
        name: "pull_request",
        payload: pullRequestEvent({ number: 99 }),
      });
      expect(single.status).toBe(200);
      const n99 = other.prepare("SELECT COUNT(*) AS n FROM tasks WHERE source = 'pr:99'").get() as {
        n: number;
      };
      expect(n99.n).toBe(1);
      group.leave();
      // Many at once, so deliveries share group commits.
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          deliver(fileApp, {
            name: "pull_request",
            payload: pullRequestEvent({ sha: String(i).padStart(40, "0") }),
          }).then((r) => {
            seenAtAnswer.push(committed().n);
            return r.status;
          }),
        ),
      );
      expect(answers.every((s) => s === 200)).toBe(true);
      expect(seenAtAnswer.every((n) => n === 1)).toBe(true);
      const delivered = other.prepare("SELECT COUNT(*) AS n FROM deliveries").get() as {
        n: number;
      };
      expect(delivered.n).toBe(21);
    } finally {
      other.close();
      await fileApp.close();
      await fileApp.store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a handler failing before its commit gets no 2xx, is not recorded, and a redelivery is processed", async () => {
    // The synchronous part under the async store: the write fails inside the handler's tx.
    const spy = vi.spyOn(TaskStore.prototype, "enqueue").mockImplementationOnce(() => {
      throw new Error("SQLITE_IOERR: disk I/O error");
    });
    const failed = await deliver(app, {
      name: "pull_request",
      payload: pullRequestEvent(),
      id: "d-fail",
    });
    expect(failed.status).toBe(500);
    expect(await app.store.deliveries.has("d-fail")).toBe(false);
    expect(await app.store.tasks.list()).toHaveLength(0);
    spy.mockRestore();
    const again = await deliver(app, {
      name: "pull_request",
      payload: pullRequestEvent(),
      id: "d-fail",
    });
    expect(again.status).toBe(200);
    expect(await app.store.deliveries.has("d-fail")).toBe(true);
    expect(await app.store.tasks.list()).toHaveLength(1);
  });
});

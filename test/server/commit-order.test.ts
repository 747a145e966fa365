import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { deliver, seedConfig, startTestApp } from "../helpers/app-server.js";
import type { TestApp } from "../helpers/app-server.js";
import { REPO, pullRequestEvent } from "../helpers/payloads.js";

describe("the answer follows the commit", () => {
  let app: TestApp;
  beforeEach(async () => {
    app = await startTestApp();
    seedConfig(app.store, REPO, {});
  });
  afterEach(() => app.close());

  it("answers 2xx only after the task's transaction committed", async () => {
    const order: string[] = [];
    const tx = app.store.tx.bind(app.store);
    app.store.tx = <R>(fn: () => R): R => {
      const r = tx(fn);
      order.push("committed");
      return r;
    };
    const res = await deliver(app, { name: "pull_request", payload: pullRequestEvent() });
    order.push(`answered ${res.status}`);
    // At the moment the answer arrives the task is in the store.
    expect(app.store.tasks.open(REPO, "automerge", "pr:7")).toBeDefined();
    expect(order[order.length - 1]).toBe("answered 200");
    expect(order).toContain("committed");
    expect(order.indexOf("committed")).toBeLessThan(order.indexOf("answered 200"));
  });

  it("a handler failing before its commit gets no 2xx, is not recorded, and a redelivery is processed", async () => {
    const spy = vi.spyOn(app.store.tasks, "enqueue").mockImplementationOnce(() => {
      throw new Error("SQLITE_IOERR: disk I/O error");
    });
    const failed = await deliver(app, {
      name: "pull_request",
      payload: pullRequestEvent(),
      id: "d-fail",
    });
    expect(failed.status).toBe(500);
    expect(app.store.deliveries.has("d-fail")).toBe(false);
    expect(app.store.tasks.list()).toHaveLength(0);
    spy.mockRestore();
    const again = await deliver(app, {
      name: "pull_request",
      payload: pullRequestEvent(),
      id: "d-fail",
    });
    expect(again.status).toBe(200);
    expect(app.store.deliveries.has("d-fail")).toBe(true);
    expect(app.store.tasks.list()).toHaveLength(1);
  });
});

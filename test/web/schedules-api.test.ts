import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { memoryLogger } from "../../src/log.js";
import type { Store } from "../../src/store/index.js";
import { memoryStore } from "../helpers/store.js";
import type { Served } from "./serve.js";
import { serveWeb, TOKEN } from "./serve.js";
import { seedSchedules } from "./seed-schedules.js";

const NOW = Date.parse("2026-11-22T12:00:00Z");
const REPO = "acme/api";

describe("admin API: schedules", () => {
  let store: Store;
  let served: Served;
  let ids: Record<string, number>;
  let wakes = 0;

  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(served.url + path, {
      method,
      headers: {
        authorization: `Bearer ${TOKEN}`,
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return {
      status: res.status,
      body: (text ? JSON.parse(text) : null) as Record<string, unknown>,
    };
  };

  beforeEach(async () => {
    store = await memoryStore();
    ids = await seedSchedules(store, NOW);
    wakes = 0;
    served = await serveWeb({
      store,
      log: memoryLogger([]),
      now: () => NOW,
      wake: async () => {
        wakes++;
        return {};
      },
    });
  });
  afterEach(async () => {
    await served.close();
    await store.close();
  });

  it("GET /bg/api/schedules lists every state, filtered by repo and status", async () => {
    const all = await call("GET", "/bg/api/schedules");
    expect(all.status).toBe(200);
    const byName = Object.fromEntries(
      (all.body.schedules as { name: string; status: string }[]).map((s) => [s.name, s]),
    );
    expect(Object.keys(byName).sort()).toEqual(["broken", "digest", "finished", "idea", "off"]);
    expect(byName.digest).toMatchObject({
      status: "active",
      trigger: "every 1d",
      nextRunAt: expect.any(Number),
      lastRun: { status: "changed", link: "https://github.com/acme/api/issues/9#issuecomment-1" },
    });
    expect(byName.off).toMatchObject({ status: "paused", pauseKind: "disabled" });
    expect(byName.broken).toMatchObject({
      status: "failed",
      reason: "failed twice in a row: boom",
    });
    expect(byName.idea).toMatchObject({ status: "proposed" });

    const paused = await call("GET", `/bg/api/schedules?repo=${REPO}&status=paused`);
    expect((paused.body.schedules as { name: string }[]).map((s) => s.name)).toEqual(["off"]);
    const bad = await call("GET", "/bg/api/schedules?status=sleeping");
    expect(bad.status).toBe(400);
    expect(bad.body.error).toContain(
      "status must be one of active, paused, failed, done, proposed",
    );
  });

  it("GET /bg/api/runs?task=NAME and /bg/api/runs/:id", async () => {
    const runs = await call("GET", "/bg/api/runs?task=digest");
    expect((runs.body.runs as { ref: string }[]).map((r) => r.ref)).toEqual(["task:digest"]);
    const id = (runs.body.runs as { id: number }[])[0]!.id;
    const one = await call("GET", `/bg/api/runs/${id}`);
    expect(one.status).toBe(200);
    expect(one.body.run).toMatchObject({
      id,
      summary: "3 new tech-debt issues",
      status: "changed",
    });
    expect((await call("GET", "/bg/api/runs/999999")).status).toBe(404);
    expect((await call("GET", "/bg/api/runs?task=no%20such")).status).toBe(400);
    expect((await call("POST", `/bg/api/runs/${id}`, {})).status).toBe(405);
  });

  it("POST pause, run and resume act on one schedule and are audited; refusals say why and change nothing", async () => {
    const p = await call("POST", `/bg/api/schedules/${ids.digest}/pause`, {});
    expect(p.status).toBe(200);
    expect(p.body).toMatchObject({
      result: "paused task",
      schedule: { status: "paused", pauseKind: "manual" },
    });
    expect((await store.schedules.byId(ids.digest!))?.statusReason).toBe(
      "paused by admin (the dashboard)",
    );

    const r = await call("POST", `/bg/api/schedules/${ids.digest}/run`, {});
    expect(r.status).toBe(200);
    expect(r.body.result).toMatch(/^prompt_task \d+ queued$/);
    expect(wakes).toBe(1);
    expect(await store.tasks.list({ repo: REPO, type: "prompt_task" })).toEqual([
      expect.objectContaining({
        source: "schedule:digest",
        payload: { name: "digest", manual: true, requestedBy: "admin" },
      }),
    ]);
    // Run twice: one queued task (done twice: 0).
    await call("POST", `/bg/api/schedules/${ids.digest}/run`, {});
    expect(await store.tasks.list({ repo: REPO, type: "prompt_task" })).toHaveLength(1);

    const res = await call("POST", `/bg/api/schedules/${ids.digest}/resume`, {});
    expect(res.body).toMatchObject({
      result: "resumed task (was paused)",
      schedule: { status: "active" },
    });

    const refused = await call("POST", `/bg/api/schedules/${ids.idea}/run`, {});
    expect(refused.status).toBe(409);
    expect(refused.body.error).toContain("idea is proposed: approve it first");
    expect((await store.schedules.byId(ids.idea!))?.status).toBe("proposed");
    expect((await call("POST", `/bg/api/schedules/${ids.off}/resume`, {})).status).toBe(409);
    expect((await call("POST", "/bg/api/schedules/424242/pause", {})).status).toBe(404);
    expect((await call("GET", `/bg/api/schedules/${ids.digest}/pause`)).status).toBe(405);

    const audit = (await store.audit.list({ limit: 20 })).map((e) => [
      e.repo,
      e.command,
      e.target,
      e.result,
    ]);
    expect(audit).toEqual([
      ["acme/api", "resume", "task:off", expect.stringMatching(/^refused: off is disabled/)],
      ["acme/web", "run", "task:idea", "refused: idea is proposed: approve it first"],
      ["acme/api", "resume", "task:digest", "resumed task (was paused)"],
      ["acme/api", "run", "task:digest", expect.stringMatching(/already queued$/)],
      ["acme/api", "run", "task:digest", expect.stringMatching(/queued$/)],
      ["acme/api", "pause", "task:digest", "paused task"],
    ]);
  });
});

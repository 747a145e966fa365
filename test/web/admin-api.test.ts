import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { memoryLogger } from "../../src/log.js";
import type { Store } from "../../src/store/index.js";
import { createAdminApi } from "../../src/web/admin-api.js";
import type { StatusView } from "../../src/web/status.js";
import { memoryStore } from "../helpers/store.js";
import type { Served } from "./serve.js";
import { HTML_REPO, seed, serveRoutes, serveWeb, TOKEN } from "./serve.js";

const NOW = Date.parse("2026-11-22T12:00:00Z");

const ENDPOINTS: [string, string][] = [
  ["GET", "/bg/api/status"],
  ["GET", "/bg/api/tasks"],
  ["GET", "/bg/api/runs"],
  ["GET", "/bg/api/batches"],
  ["GET", "/bg/api/audit"],
  ["GET", "/bg/api/spend"],
  ["GET", "/bg/api/automerge"],
  ["POST", "/bg/api/pause"],
  ["POST", "/bg/api/resume"],
  ["POST", "/bg/api/wake"],
];

describe("admin API", () => {
  let store: Store;
  let served: Served;
  let wakes = 0;
  const logs: { level: string; msg: string; obj?: object }[] = [];

  const call = async (
    method: string,
    path: string,
    body?: unknown,
    token: string | null = TOKEN,
  ) => {
    const res = await fetch(served.url + path, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(body !== undefined
        ? { body: typeof body === "string" ? body : JSON.stringify(body) }
        : {}),
    });
    const text = await res.text();
    return {
      status: res.status,
      headers: res.headers,
      body: (text ? JSON.parse(text) : null) as Record<string, unknown> & { error?: string },
    };
  };

  beforeEach(async () => {
    store = await memoryStore();
    await seed(store, NOW);
    wakes = 0;
    logs.length = 0;
    served = await serveWeb({
      store,
      log: memoryLogger(logs),
      now: () => NOW,
      wake: async () => {
        wakes++;
        return { repos: 2, claimed: 3 };
      },
    });
  });
  afterEach(async () => {
    await served.close();
    await store.close();
  });

  it("answers 401 on every endpoint without a token or with a wrong one, and changes nothing", async () => {
    for (const [method, path] of ENDPOINTS) {
      const none = await call(method, path, method === "POST" ? {} : undefined, null);
      expect(none.status, `${method} ${path} without a token`).toBe(401);
      expect(none.headers.get("www-authenticate")).toMatch(/^Bearer/);
      const wrong = await call(
        method,
        path,
        method === "POST" ? {} : undefined,
        "not-the-token-at-all-xxxxxxxxxxxxx",
      );
      expect(wrong.status, `${method} ${path} with a wrong token`).toBe(401);
      const prefix = await call(
        method,
        path,
        method === "POST" ? {} : undefined,
        TOKEN.slice(0, -1),
      );
      expect(prefix.status).toBe(401);
    }
    // Unknown paths under /bg/api are not revealed either.
    expect((await call("GET", "/bg/api/nope", undefined, null)).status).toBe(401);
    expect(await store.activity.manualPause("*", NOW)).toBeNull();
    expect(wakes).toBe(0);
  });

  it("stays closed (503) when no admin token is configured", async () => {
    const closed = await serveWeb({ store, log: memoryLogger(), adminToken: null });
    try {
      const res = await fetch(`${closed.url}/bg/api/status`, {
        headers: { authorization: "Bearer anything" },
      });
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: string }).error).toMatch(/BG_ADMIN_TOKEN/);
    } finally {
      await closed.close();
    }
  });

  it("reports status numbers that match the seeded store", async () => {
    const { status, body } = await call("GET", "/bg/api/status");
    expect(status).toBe(200);
    const s = body as unknown as StatusView;
    expect(s.global).toEqual({ paused: false, until: null, by: null, reason: null });
    expect(s.queue.byStatus).toEqual({ pending: 6, running: 1, done: 2, failed: 1, cancelled: 0 });
    expect(s.queue.byType.tech_debt_analysis).toMatchObject({ pending: 3, done: 2 });
    expect(s.queue.byType.automerge).toMatchObject({ pending: 2, running: 1 });
    expect(s.queue.byType.fix).toMatchObject({ failed: 1 });
    expect(s.spend.todayUsd).toBeCloseTo(0.5, 10);
    expect(s.spend.monthUsd).toBeCloseTo(1.6, 10);
    expect(s.repos.map((r) => r.repo).sort()).toEqual([HTML_REPO, "acme/api", "acme/web"].sort());
    const api = s.repos.find((r) => r.repo === "acme/api")!;
    expect(api).toMatchObject({
      state: "active",
      installed: true,
      queue: { pending: 3, running: 1, done: 2, failed: 1, cancelled: 0 },
      spend: { dailyBudgetUsd: 2, monthlyBudgetUsd: 30 },
    });
    expect(api.spend.todayUsd).toBeCloseTo(0.42, 10);
    expect(api.spend.monthUsd).toBeCloseTo(1.52, 10);
    const web = s.repos.find((r) => r.repo === "acme/web")!;
    expect(web.state).toBe("waiting");
    expect(web.peopleActive).toBe(true);
    expect(web.reasons[0]).toMatchObject({
      kind: "people_active",
      until: NOW - 60_000 + 5 * 60_000,
    });
    expect(web.reasons[0]!.message).toContain("octocat");
    expect(web.spend).toMatchObject({ dailyBudgetUsd: 1, monthlyBudgetUsd: 20 });
    const evil = s.repos.find((r) => r.repo === HTML_REPO)!;
    expect(evil).toMatchObject({ installed: null, spend: { dailyBudgetUsd: null } });
    expect(s.activeRepos.sort()).toEqual([HTML_REPO, "acme/api"].sort());
    expect(s.schedules).toEqual([
      expect.objectContaining({
        repo: "acme/web",
        name: "digest",
        trigger: "every 30m",
        nextRunAt: NOW + 30 * 60_000,
      }),
    ]);
    expect(s.automerge.waiting).toBe(1);
    expect(s.runs.total).toBe(5);
    // Never a prompt or an issue body.
    expect(JSON.stringify(body)).not.toContain("SECRET");
  });

  it("shows a repository whose daily budget is spent as waiting, with the reason", async () => {
    await store.spend.add(
      "acme/api",
      { promptTokens: 0, cachedTokens: 0, completionTokens: 0, costUsd: 1.7 },
      NOW,
    );
    const s = (await call("GET", "/bg/api/status")).body as unknown as StatusView;
    const api = s.repos.find((r) => r.repo === "acme/api")!;
    expect(api.state).toBe("waiting");
    expect(api.reasons).toEqual([
      expect.objectContaining({ kind: "budget_daily", until: Date.parse("2026-11-23T00:00:00Z") }),
    ]);
    expect(api.reasons[0]!.message).toBe("daily budget spent ($2.12 of $2.00)");
  });

  it("lists tasks with filters, paging and a total, without payload bodies", async () => {
    const all = await call("GET", "/bg/api/tasks");
    expect(all.status).toBe(200);
    expect(all.body.total).toBe(10);
    const pending = await call(
      "GET",
      "/bg/api/tasks?repo=acme/api&status=pending&type=tech_debt_analysis&limit=2&offset=0",
    );
    expect(pending.body.total).toBe(3);
    const tasks = pending.body.tasks as {
      source: string;
      title: string;
      link: string;
      status: string;
    }[];
    expect(tasks).toHaveLength(2);
    expect(tasks.every((t) => t.status === "pending")).toBe(true);
    expect(tasks[0]).toMatchObject({
      source: "issue:3",
      title: "Task issue:3",
      link: "https://github.com/acme/api/issues/3",
    });
    const next = await call(
      "GET",
      "/bg/api/tasks?repo=acme/api&status=pending&type=tech_debt_analysis&limit=2&offset=2",
    );
    expect((next.body.tasks as { source: string }[]).map((t) => t.source)).toEqual(["issue:1"]);
    expect(JSON.stringify(all.body)).not.toContain("SECRET");
  });

  it("pages runs by id and links each to its item", async () => {
    const first = await call("GET", "/bg/api/runs?limit=2");
    const runs = first.body.runs as {
      id: number;
      link: string | null;
      cacheHitShare: number | null;
      ref: string;
    }[];
    expect(runs.map((r) => r.ref)).toEqual(["issue:12", "schedule:digest"]);
    expect(runs[0]!.link).toBe("https://github.com/acme/api/issues/12");
    expect(runs[1]!.link).toBe("https://github.com/acme/web/issues/9#issuecomment-1");
    expect(first.body.nextBefore).toBe(runs[1]!.id);
    const second = await call(
      "GET",
      `/bg/api/runs?limit=2&before=${String(first.body.nextBefore)}`,
    );
    const r2 = second.body.runs as { ref: string; link: string; cacheHitShare: number | null }[];
    expect(r2.map((r) => r.ref)).toEqual(["pr:5", "issue:11"]);
    expect(r2[0]!.link).toBe("https://github.com/acme/api/pull/5");
    expect(r2[1]!.cacheHitShare).toBe(0.25);
    const third = await call(
      "GET",
      `/bg/api/runs?limit=2&before=${String(second.body.nextBefore)}`,
    );
    expect((third.body.runs as unknown[]).length).toBe(1);
    expect(third.body.nextBefore).toBeNull();
    const merged = await call("GET", "/bg/api/runs?repo=acme/api&kind=automerge");
    expect((merged.body.runs as { status: string }[]).map((r) => r.status)).toEqual(["merged"]);
  });

  it("lists batches with their cache-hit share", async () => {
    const { body } = await call("GET", "/bg/api/batches");
    expect(body.batches).toEqual([
      expect.objectContaining({
        repo: "acme/api",
        items: 2,
        promptTokens: 4000,
        cachedTokens: 1000,
        cacheHitShare: 0.25,
        costUsd: 0.42,
        status: "done",
      }),
    ]);
  });

  it("reports spend per day for 30 days against the budgets", async () => {
    const { body } = await call("GET", "/bg/api/spend?days=30");
    const days = body.days as { day: string; costUsd: number }[];
    expect(days).toHaveLength(30);
    expect(days[29]!.day).toBe("2026-11-22");
    expect(days[0]!.day).toBe("2026-10-24");
    expect(days[29]!.costUsd).toBeCloseTo(0.5, 10);
    expect(days[28]!.costUsd).toBeCloseTo(1.1, 10);
    expect(days.slice(0, 28).every((d) => d.costUsd === 0)).toBe(true);
    expect(body.budget).toEqual({ dailyUsd: 3, monthlyUsd: 50, reposWithoutBudget: [HTML_REPO] });
    const one = await call("GET", "/bg/api/spend?days=7&repo=acme/api");
    expect(one.body).toMatchObject({
      repo: "acme/api",
      budget: { dailyUsd: 2, monthlyUsd: 30, reposWithoutBudget: [] },
    });
    expect(one.body.monthUsd).toBeCloseTo(1.52, 10);
  });

  it("lists automerge PRs waiting with their first unmet condition", async () => {
    const { body } = await call("GET", "/bg/api/automerge");
    expect(body.waiting).toEqual([
      expect.objectContaining({
        repo: "acme/api",
        pr: 7,
        firstUnmet: "approvals",
        firstUnmetDetail: "needs 1 approving review, has 0",
        conditions: 2,
        conditionsMet: 1,
        link: "https://github.com/acme/api/pull/7",
      }),
    ]);
  });

  it("pauses and resumes one repository, with an audit entry", async () => {
    const p = await call("POST", "/bg/api/pause", {
      repo: "acme/api",
      until: "2h",
      reason: "release freeze",
    });
    expect(p.status).toBe(200);
    expect(p.body).toMatchObject({
      paused: true,
      repo: "acme/api",
      until: NOW + 2 * 3_600_000,
      by: "admin",
      reason: "release freeze",
    });
    expect(await store.activity.manualPause("acme/api", NOW)).toMatchObject({
      pausedUntil: NOW + 7_200_000,
      pausedReason: "release freeze",
    });
    expect(await store.activity.manualPause("acme/web", NOW)).toBeNull();
    const s = (await call("GET", "/bg/api/status")).body as unknown as StatusView;
    const api = s.repos.find((r) => r.repo === "acme/api")!;
    expect(api.state).toBe("paused");
    expect(api.pause).toEqual({ until: NOW + 7_200_000, by: "admin", reason: "release freeze" });
    expect(api.reasons[0]!.message).toBe(
      "paused by admin until 2026-11-22T14:00:00.000Z: release freeze",
    );

    const r = await call("POST", "/bg/api/resume", { repo: "acme/api" });
    expect(r.body).toMatchObject({ paused: false, repo: "acme/api", changed: true });
    expect(await store.activity.manualPause("acme/api", NOW)).toBeNull();
    const audit = await call("GET", "/bg/api/audit?repo=acme/api");
    expect(
      (audit.body.entries as { command: string; actor: string }[]).map((e) => [e.command, e.actor]),
    ).toEqual([
      ["resume", "admin"],
      ["pause", "admin"],
    ]);
    expect(logs.some((l) => l.msg.includes("paused through the admin API"))).toBe(true);
  });

  it("pauses and resumes all repositories when no repo is given", async () => {
    const until = "2026-11-23T08:00:00Z";
    const p = await call("POST", "/bg/api/pause", { until });
    expect(p.body).toMatchObject({ repo: "*", until: Date.parse(until) });
    expect(await store.activity.manualPause("acme/web", NOW)).toMatchObject({ repo: "*" });
    const s = (await call("GET", "/bg/api/status")).body as unknown as StatusView;
    expect(s.global).toMatchObject({ paused: true, until: Date.parse(until), by: "admin" });
    expect(s.repos.every((r) => r.state === "paused")).toBe(true);
    expect(s.activeRepos).toEqual([]);
    // Resuming one repository does not lift the global pause, and says so.
    const one = await call("POST", "/bg/api/resume", { repo: "acme/web" });
    expect(one.body.note).toMatch(/still paused/);
    await call("POST", "/bg/api/resume");
    expect(await store.activity.manualPause("acme/web", NOW)).toBeNull();
  });

  it("answers 400 with a clear message on bad input", async () => {
    const cases: [string, string, unknown, RegExp][] = [
      ["GET", "/bg/api/runs?limit=abc", undefined, /limit: limit must be a number/],
      ["GET", "/bg/api/runs?limit=0", undefined, /limit must be at least 1/],
      ["GET", "/bg/api/runs?limit=501", undefined, /limit must be at most 500/],
      ["GET", "/bg/api/runs?before=-3", undefined, /before must be at least 1/],
      ["GET", "/bg/api/runs?kind=bogus", undefined, /kind/],
      ["GET", "/bg/api/runs?colour=red", undefined, /unknown field colour/],
      ["GET", "/bg/api/tasks?status=sleeping", undefined, /status/],
      ["GET", "/bg/api/tasks?offset=1.5", undefined, /offset must be a whole number/],
      ["GET", "/bg/api/spend?days=1000", undefined, /days must be at most 366/],
      ["GET", "/bg/api/status?x=1", undefined, /unknown field x/],
      ["POST", "/bg/api/pause", "{not json", /body must be JSON/],
      ["POST", "/bg/api/pause", { repo: "no-slash" }, /repo must be "owner\/name"/],
      ["POST", "/bg/api/pause", { until: "tomorrow-ish" }, /neither an ISO time .* nor a duration/],
      ["POST", "/bg/api/pause", { until: "2020-01-01T00:00:00Z" }, /must be in the future/],
      ["POST", "/bg/api/pause", { until: "9000d" }, /within a year/],
      ["POST", "/bg/api/pause", { reason: 42 }, /reason/],
      ["POST", "/bg/api/pause", { repo: "a/b", force: true }, /unknown field force/],
      ["POST", "/bg/api/resume", [1, 2], /body/],
    ];
    for (const [method, path, body, message] of cases) {
      const res = await call(method, path, body);
      expect(res.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(400);
      expect(res.body.error, `${method} ${path}`).toMatch(message);
    }
    expect(await store.activity.manualPause("*", NOW)).toBeNull();
    expect(await store.activity.manualPause("a/b", NOW)).toBeNull();
  });

  it("answers 405 for a wrong method and 404 for an unknown endpoint", async () => {
    const g = await call("GET", "/bg/api/pause");
    expect(g.status).toBe(405);
    expect(g.headers.get("allow")).toBe("POST");
    expect((await call("DELETE", "/bg/api/status")).status).toBe(405);
    const n = await call("GET", "/bg/api/nope");
    expect(n.status).toBe(404);
  });

  it("wakes the worker loop and answers 202 with the pass summary", async () => {
    const w = await call("POST", "/bg/api/wake");
    expect(w.status).toBe(202);
    expect(w.body).toEqual({ accepted: true, done: true, summary: { repos: 2, claimed: 3 } });
    expect(wakes).toBe(1);
  });

  it("answers 202 accepted without waiting for a long pass, and 503 without a worker", async () => {
    let finish: () => void = () => {};
    const slow = await serveRoutes([
      createAdminApi({
        store,
        log: memoryLogger(),
        adminToken: TOKEN,
        wakeWaitMs: 50,
        wake: () => new Promise<void>((r) => (finish = r)),
      }),
    ]);
    const none = await serveWeb({ store, log: memoryLogger() });
    try {
      const res = await fetch(`${slow.url}/bg/api/wake`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      // The pass is still running after wakeWaitMs: accepted, not done.
      expect(res.status).toBe(202);
      expect(await res.json()).toEqual({ accepted: true, done: false });
      const res2 = await fetch(`${none.url}/bg/api/wake`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(res2.status).toBe(503);
      expect(((await res2.json()) as { error: string }).error).toMatch(/no worker/);
    } finally {
      finish();
      await slow.close();
      await none.close();
    }
  });

  it("never logs the token", async () => {
    await call("GET", "/bg/api/status");
    await call("POST", "/bg/api/pause", { repo: "acme/api" });
    await call("GET", "/bg/api/status", undefined, "wrong-token-wrong-token-wrong");
    expect(JSON.stringify(logs)).not.toContain(TOKEN);
    expect(JSON.stringify(logs)).not.toContain("wrong-token");
  });
});

describe("an empty store", () => {
  it("answers every view with zeros and empty lists", async () => {
    const store = await memoryStore();
    const served = await serveWeb({ store, log: memoryLogger(), now: () => NOW });
    try {
      const get = async (p: string) =>
        (await (
          await fetch(served.url + p, { headers: { authorization: `Bearer ${TOKEN}` } })
        ).json()) as Record<string, unknown>;
      const s = await get("/bg/api/status");
      expect(s).toMatchObject({
        repos: [],
        activeRepos: [],
        schedules: [],
        automerge: { waiting: 0 },
        runs: { total: 0 },
      });
      expect((s.queue as { byStatus: unknown }).byStatus).toEqual({
        pending: 0,
        running: 0,
        done: 0,
        failed: 0,
        cancelled: 0,
      });
      expect(await get("/bg/api/runs")).toEqual({ runs: [], limit: 50, nextBefore: null });
      const spend = await get("/bg/api/spend");
      expect((spend.days as unknown[]).length).toBe(30);
      expect(spend.budget).toEqual({ dailyUsd: null, monthlyUsd: null, reposWithoutBudget: [] });
      expect(await get("/bg/api/automerge")).toEqual({ waiting: [] });
    } finally {
      await served.close();
      await store.close();
    }
  });
});

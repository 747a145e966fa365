import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "../../src/log.js";
import type { Store } from "../../src/store/index.js";
import { sendError } from "../../src/web/http.js";
import type { Route } from "../../src/web/http.js";
import type { WebDeps } from "../../src/web/routes.js";
import { createWebRoutes } from "../../src/web/routes.js";

export const TOKEN = "test-admin-token-0123456789abcdef";

export interface Served {
  url: string;
  close(): Promise<void>;
}

/** A plain node:http server on 127.0.0.1:0 that runs the routes in order, then 404. Logs each request line. */
export async function serveRoutes(routes: Route[], log?: Logger): Promise<Served> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    // An access log like a real server's: method and URL, never headers.
    log?.info({ method: req.method, url: req.url }, "request");
    void (async () => {
      for (const r of routes) if (await r(req, res, url)) return;
      sendError(res, 404, "not found");
    })().catch((e: unknown) => {
      log?.error({ err: String(e) }, "route failed");
      if (!res.headersSent) sendError(res, 500, "internal error");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function serveWeb(
  deps: Omit<WebDeps, "adminToken"> & { adminToken?: string | null },
): Promise<Served> {
  const { adminToken, ...rest } = deps;
  const token = adminToken === null ? undefined : (adminToken ?? TOKEN);
  return serveRoutes(
    createWebRoutes({ ...rest, ...(token ? { adminToken: token } : {}) }),
    deps.log,
  );
}

export const HTML_REPO = '<img src=x onerror="window.__xss=1">/evil<b>';

export interface Seeded {
  now: number;
  runIds: number[];
}

/**
 * A small store with something in every view: two real repositories and one whose name is HTML,
 * tasks in every status, spend over several days, runs, a batch, a schedule, a waiting PR.
 */
export async function seed(store: Store, now: number): Promise<Seeded> {
  const day = 86_400_000;
  await store.repos.upsert({ fullName: "acme/api", installationId: 1, defaultBranch: "main" }, now);
  await store.repos.setConfig(
    "acme/api",
    {
      json: JSON.stringify({ budget: { daily_usd: 2, monthly_usd: 30 } }),
      hash: "h1",
      valid: true,
      errors: [],
    },
    now,
  );
  await store.repos.upsert({ fullName: "acme/web", installationId: 1 }, now);
  await store.repos.setConfig("acme/web", { json: null, hash: "h0", valid: true, errors: [] }, now);

  const enq = async (
    repo: string,
    type: "automerge" | "tech_debt_analysis" | "fix" | "prompt_task",
    source: string,
  ) =>
    (
      await store.tasks.enqueue(
        { repo, type, source, payload: { title: `Task ${source}`, body: "SECRET ISSUE BODY" } },
        now - 60_000,
      )
    ).task;
  // acme/api: 3 pending analyses, 1 running automerge, 2 done analyses, 1 failed fix.
  for (const n of [1, 2, 3]) await enq("acme/api", "tech_debt_analysis", `issue:${n}`);
  const running = await enq("acme/api", "automerge", "pr:7");
  const d1 = await enq("acme/api", "tech_debt_analysis", "issue:10");
  const d2 = await enq("acme/api", "tech_debt_analysis", "issue:11");
  const f1 = await enq("acme/api", "fix", "issue:12");
  const claimed = await store.tasks.claim({
    owner: "w",
    leaseMs: 3_600_000,
    limit: 10,
    repo: "acme/api",
    now: now - 30_000,
  });
  for (const t of claimed) {
    if (t.id === d1.id || t.id === d2.id)
      await store.tasks.complete(t.id, "w", { ok: true }, now - 20_000);
    else if (t.id === f1.id)
      await store.tasks.fail(t.id, "w", "tests failed", { permanent: true }, now - 20_000);
    else if (t.id !== running.id)
      await store.tasks.release([t.id], "w", now - 60_000, now - 20_000);
  }
  // acme/web: 2 pending automerge; the HTML-named repository: 1 pending prompt task.
  await enq("acme/web", "automerge", "pr:1");
  await enq("acme/web", "automerge", "pr:2");
  await enq(HTML_REPO, "prompt_task", "schedule:digest");

  // Spend: acme/api today 0.42 (two calls), yesterday 1.10; acme/web today 0.08.
  const u = (costUsd: number) => ({
    promptTokens: 1000,
    cachedTokens: 250,
    completionTokens: 200,
    costUsd,
  });
  await store.spend.add("acme/api", u(0.3), now);
  await store.spend.add("acme/api", u(0.12), now);
  await store.spend.add("acme/api", u(1.1), now - day);
  await store.spend.add("acme/web", u(0.08), now);

  const batchId = await store.batches.start(
    {
      repo: "acme/api",
      type: "tech_debt_analysis",
      provider: "openai",
      model: "gpt-4.1-mini",
      taskIds: [d1.id, d2.id],
    },
    now - 25_000,
  );
  await store.batches.addUsage(batchId, {
    promptTokens: 4000,
    cachedTokens: 1000,
    completionTokens: 600,
    costUsd: 0.42,
  });
  await store.batches.finish(batchId, "done", null, now - 20_000);

  const runIds = [
    await store.runs.record(
      {
        repo: "acme/api",
        kind: "analysis",
        ref: "issue:10",
        batchId,
        status: "ok",
        summary: "should fix: small",
        usage: { promptTokens: 2000, cachedTokens: 500, completionTokens: 300, costUsd: 0.21 },
        startedAt: now - 25_000,
      },
      now - 20_000,
    ),
    await store.runs.record(
      {
        repo: "acme/api",
        kind: "analysis",
        ref: "issue:11",
        batchId,
        status: "ok",
        usage: { promptTokens: 2000, cachedTokens: 500, completionTokens: 300, costUsd: 0.21 },
        startedAt: now - 25_000,
      },
      now - 20_000,
    ),
    await store.runs.record(
      {
        repo: "acme/api",
        kind: "automerge",
        ref: "pr:5",
        status: "merged",
        summary: "merged by squash",
        startedAt: now - 15_000,
      },
      now - 15_000,
    ),
    await store.runs.record(
      {
        repo: "acme/web",
        kind: "prompt_task",
        ref: "schedule:digest",
        url: "https://github.com/acme/web/issues/9#issuecomment-1",
        status: "changed",
        usage: { promptTokens: 800, cachedTokens: 0, completionTokens: 100, costUsd: 0.08 },
        startedAt: now - 10_000,
      },
      now - 10_000,
    ),
    await store.runs.record(
      {
        repo: "acme/api",
        kind: "fix",
        ref: "issue:12",
        status: "failed",
        error: "tests failed",
        startedAt: now - 5_000,
      },
      now - 5_000,
    ),
  ];

  await store.schedules.upsert(
    {
      repo: "acme/web",
      name: "digest",
      spec: { name: "digest", prompt: "SECRET PROMPT TEXT", every: "30m" },
      specHash: "s1",
      nextRunAt: now + 30 * 60_000,
      maxRuns: null,
    },
    now,
  );
  await store.automerge.save({
    repo: "acme/api",
    pr: 7,
    headSha: "abc123",
    state: "waiting",
    firstUnmet: "approvals",
    conditions: [
      { id: "checks", met: true, detail: "all 3 checks passed" },
      { id: "approvals", met: false, detail: "needs 1 approving review, has 0" },
    ],
    evaluatedAt: now - 40_000,
  });
  await store.activity.recordHuman("acme/web", "octocat", now - 60_000);
  await store.deliveries.record(
    { id: "d1", event: "pull_request", action: "opened", repo: "acme/api" },
    now,
  );
  await store.deliveries.record(
    { id: "d2", event: "pull_request", action: "synchronize", repo: "acme/api" },
    now,
  );
  await store.deliveries.record(
    { id: "d3", event: "issues", action: "opened", repo: "acme/api" },
    now,
  );
  return { now, runIds };
}

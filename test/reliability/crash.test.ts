import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import nock from "nock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openStore } from "../../src/store/index.js";
import type { SqliteStore as Store } from "../../src/store/index.js";
import { answerAll, fakeGitHub, fakeOpenAI, unmatched, workspace } from "../analysis/fakes.js";
import { REPO, baseConfig, enqueue, issues } from "../analysis/setup.js";
import {
  HEAD,
  mockCheckRun,
  mockMerge,
  mockMergedComment,
  mockPull,
  mockRead,
} from "../automerge/fixtures.js";
import type { Proxy } from "./loopback.js";
import { loopbackProxy, startWorker } from "./loopback.js";

/**
 * Worker crashes: a real worker process (test/reliability/crash-worker.ts: the SQLite store on a
 * file, runPass, the processors, GitHub and the LLM over loopback HTTP) is killed with SIGKILL
 * while a request is in flight. Its tasks stay leased (nobody else takes them) until the lease
 * runs out; then another worker process claims them and finishes. Counted: lost 0 (every task
 * done), done twice 0 (one analysis comment per issue, one merge per PR).
 */

const LEASE_MS = 3000;
let dir: string;
let db: string;
let nomatch: ReturnType<typeof unmatched>;
const proxies: Proxy[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "bg-crash-"));
  db = join(dir, "bg.db");
  nomatch = unmatched();
});
afterEach(async () => {
  nomatch.stop();
  for (const p of proxies.splice(0)) await p.close();
});

async function withStore<T>(fn: (s: Store) => T | Promise<T>): Promise<T> {
  const s = await openStore({ path: db });
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

async function proxy(upstream: string, hold?: Parameters<typeof loopbackProxy>[1]) {
  const p = await loopbackProxy(upstream, hold);
  proxies.push(p);
  return p;
}

const workerEnv = (gh: Proxy, llm: Proxy, mode: string, config: unknown, ws?: string) => ({
  BG_DB_PATH: db,
  GITHUB_API_URL: gh.url,
  BG_LLM_BASE_URL: `${llm.url}/v1`,
  BG_CONFIG_JSON: JSON.stringify(config),
  BG_LEASE_MS: String(LEASE_MS),
  BG_MODE: mode,
  ...(ws ? { BG_WORKSPACE: ws } : {}),
});

/** Waits (polling the file) until no lease of a running task is still valid. */
async function leasesExpired(): Promise<void> {
  for (;;) {
    const live = await withStore(
      (s) =>
        s.db
          .prepare(
            "SELECT COUNT(*) AS n FROM tasks WHERE status = 'running' AND lease_expires_at > ?",
          )
          .get(Date.now()) as { n: number },
    );
    if (live.n === 0) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Right after the crash, another worker claims nothing: the dead worker's leases still hold. */
async function nothingClaimable(): Promise<void> {
  const claimed = await withStore(
    async (s) => await s.tasks.claim({ owner: "probe", leaseMs: 60_000, limit: 50, repo: REPO }),
  );
  expect(claimed).toEqual([]);
}

describe("worker crash (SIGKILL) mid-batch", () => {
  it("injects SIGKILL while the LLM call is in flight (1 kill): after the lease the next worker analyses each issue once (lost 0, comments twice 0)", async () => {
    const list = issues(3);
    await withStore(async (s) => await enqueue(s, list));
    const gh = fakeGitHub(REPO, list, ["get", "post"]);
    const llmUp = fakeOpenAI(answerAll, { times: 1 });
    let chats = 0;
    const ghp = await proxy("https://api.github.com");
    const llmp = await proxy(
      "https://api.openai.com",
      (r) => r.path.endsWith("/chat/completions") && ++chats === 1,
    );
    const ws = workspace(500);
    const config = baseConfig();

    const w1 = startWorker(workerEnv(ghp, llmp, "analyze", config, ws));
    await llmp.nextHold();
    w1.child.kill("SIGKILL");
    expect((await w1.done).signal).toBe("SIGKILL");
    expect(gh.writes()).toEqual([]); // nothing reported before the answer
    await nothingClaimable();
    expect(
      await withStore(async (s) => (await s.tasks.list({ repo: REPO })).map((t) => t.status)),
    ).toEqual(["running", "running", "running"]);

    await leasesExpired();
    const w2 = startWorker(workerEnv(ghp, llmp, "analyze", config, ws));
    const r2 = await w2.done;
    expect(r2.code, r2.stderr).toBe(0);
    expect(llmUp.calls).toHaveLength(1);
    expect(llmp.held).toHaveLength(1);
    for (const i of list) {
      const mine = (i.comments ?? []).filter((c) => c.body.includes("<!-- bg-agent:analysis:"));
      expect(mine).toHaveLength(1);
      expect(i.labels.filter((l) => l === "bg:should-fix")).toHaveLength(1);
    }
    await withStore(async (s) => {
      expect((await s.tasks.list({ repo: REPO })).map((t) => t.status)).toEqual([
        "done",
        "done",
        "done",
      ]);
      expect(await s.spend.today(REPO)).toBeGreaterThan(0);
      // One billed call: the killed worker never got an answer, so it recorded none.
      expect((s.db.prepare("SELECT SUM(calls) AS n FROM spend").get() as { n: number }).n).toBe(1);
    });
    expect(nomatch.list).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("injects SIGKILL after the first issue's comment was posted (1 kill, its label in flight): the next worker updates that comment in place, one comment per issue", async () => {
    const list = issues(2);
    await withStore(async (s) => await enqueue(s, list));
    const gh = fakeGitHub(REPO, list, ["get", "post", "patch"]);
    const llmUp = fakeOpenAI(answerAll, { times: 1 });
    let labels = 0;
    const ghp = await proxy(
      "https://api.github.com",
      (r) => r.method === "POST" && /\/issues\/1\/labels$/.test(r.path) && ++labels === 1,
    );
    const llmp = await proxy("https://api.openai.com");
    const ws = workspace(500);
    const config = baseConfig();

    const w1 = startWorker(workerEnv(ghp, llmp, "analyze", config, ws));
    await ghp.nextHold();
    w1.child.kill("SIGKILL");
    expect((await w1.done).signal).toBe("SIGKILL");
    expect(list[0]!.comments).toHaveLength(1); // posted before the kill
    await nothingClaimable();

    await leasesExpired();
    const w2 = startWorker(workerEnv(ghp, llmp, "analyze", config, ws));
    const r2 = await w2.done;
    expect(r2.code, r2.stderr).toBe(0);
    for (const i of list) {
      const mine = (i.comments ?? []).filter((c) => c.body.includes("<!-- bg-agent:analysis:"));
      expect(mine).toHaveLength(1);
      expect(i.labels.filter((l) => l === "bg:should-fix")).toHaveLength(1);
    }
    // The comment on #1 was updated in place (PATCH), never posted a second time.
    const posts = gh.requests.filter(
      (r) => r.method === "POST" && /\/issues\/1\/comments$/.test(r.path),
    );
    expect(posts).toHaveLength(1);
    await withStore(async (s) =>
      expect((await s.tasks.list({ repo: REPO })).map((t) => t.status)).toEqual(["done", "done"]),
    );
    // The killed worker's answer (paid for, saved) is posted: no second LLM call, 1 billed.
    expect(llmUp.calls).toHaveLength(1);
    await withStore((s) =>
      expect((s.db.prepare("SELECT SUM(calls) AS n FROM spend").get() as { n: number }).n).toBe(1),
    );
    expect(nomatch.list).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });
});

describe("worker crash (SIGKILL) mid-merge", () => {
  const enqueuePr = () =>
    withStore(
      async (s) =>
        await s.tasks.enqueue({
          repo: REPO,
          type: "automerge",
          source: "pr:7",
          payload: { pr: 7 },
        }),
    );

  it("injects SIGKILL while the merge PUT is in flight and GitHub applied it (1 kill): the next worker sees it merged and does not merge again (merges 1)", async () => {
    await enqueuePr();
    mockRead();
    mockRead();
    const ghp = await proxy(
      "https://api.github.com",
      (r) => r.method === "PUT" && r.path.endsWith("/pulls/7/merge"),
    );
    const llmp = await proxy("https://api.openai.com");

    const w1 = startWorker(workerEnv(ghp, llmp, "automerge", {}));
    const put = await ghp.nextHold();
    w1.child.kill("SIGKILL");
    expect((await w1.done).signal).toBe("SIGKILL");
    expect(JSON.parse(put.body)).toMatchObject({ sha: HEAD });
    await nothingClaimable();

    // GitHub merged it (the answer never reached the dead worker).
    mockPull({ state: "closed", merged: true });
    await leasesExpired();
    const w2 = startWorker(workerEnv(ghp, llmp, "automerge", {}));
    const r2 = await w2.done;
    expect(r2.code, r2.stderr).toBe(0);
    expect(ghp.seen.filter((r) => r.method === "PUT")).toHaveLength(1);
    await withStore(async (s) =>
      expect((await s.tasks.list({ repo: REPO })).map((t) => t.status)).toEqual(["done"]),
    );
    expect(nomatch.list).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("injects SIGKILL while the merge PUT is in flight and GitHub never got it (1 kill): the next worker merges once, at the head SHA", async () => {
    await enqueuePr();
    mockRead();
    mockRead();
    let puts = 0;
    const ghp = await proxy(
      "https://api.github.com",
      (r) => r.method === "PUT" && r.path.endsWith("/pulls/7/merge") && ++puts === 1,
    );
    const llmp = await proxy("https://api.openai.com");

    const w1 = startWorker(workerEnv(ghp, llmp, "automerge", {}));
    await ghp.nextHold();
    w1.child.kill("SIGKILL");
    expect((await w1.done).signal).toBe("SIGKILL");
    await nothingClaimable();

    mockRead();
    mockRead();
    const merge = mockMerge();
    const check = mockCheckRun();
    mockMergedComment();
    await leasesExpired();
    const w2 = startWorker(workerEnv(ghp, llmp, "automerge", {}));
    const r2 = await w2.done;
    expect(r2.code, r2.stderr).toBe(0);
    expect(merge.body?.sha).toBe(HEAD);
    expect(check.body?.conclusion).toBe("success");
    // Two PUTs reached the proxy; only the second one reached GitHub: one merge.
    expect(ghp.seen.filter((r) => r.method === "PUT")).toHaveLength(2);
    await withStore(async (s) => {
      expect((await s.tasks.list({ repo: REPO })).map((t) => t.status)).toEqual(["done"]);
      expect((await s.automerge.get(REPO, 7))?.state).toBe("merged");
    });
    expect(nomatch.list).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });
});

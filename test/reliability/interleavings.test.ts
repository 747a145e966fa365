import { copyFileSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { Probot, ProbotOctokit } from "probot";
import { describe, expect, it } from "vitest";
import { createBgAgent } from "../../src/compose.js";
import { readEnv } from "../../src/env.js";
import { memoryLogger } from "../../src/log.js";
import { openSqlite } from "../../src/store/db.js";
import { openStore } from "../../src/store/index.js";
import { WEBHOOK_SECRET, deliver, seedConfig, testPrivateKey } from "../helpers/app-server.js";
import { pullRequestEvent } from "../helpers/payloads.js";

const REPOS = 4;
const repoName = (i: number): string => `octo/r${i}`;

/** GitHub over loopback: installation tokens, and config files answered after `delay(repo)` ms. */
async function fakeGitHub(delay: (repo: string) => number) {
  const server = createHttpServer((req, res) => {
    req.resume();
    const url = req.url ?? "";
    if (req.method === "POST" && url.includes("/access_tokens")) {
      res.writeHead(201, { "content-type": "application/json" }).end(
        JSON.stringify({
          token: "ghs_x",
          expires_at: new Date(Date.now() + 3600_000).toISOString(),
          permissions: {},
          repository_selection: "all",
        }),
      );
      return;
    }
    const m = /^\/repos\/([^/]+\/[^/]+)\/contents\//.exec(url);
    if (m) {
      setTimeout(
        () =>
          res
            .writeHead(200, { "content-type": "application/vnd.github.raw; charset=utf-8" })
            .end("automerge:\n  method: merge\n"),
        delay(m[1]!),
      );
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const scenario = fc.record({
  /** Which repositories have their config cached (warm); the others read it from GitHub. */
  warm: fc.array(fc.boolean(), { minLength: REPOS, maxLength: REPOS }),
  /** How long GitHub takes to answer each repository's config read. */
  delays: fc.array(fc.integer({ min: 0, max: 30 }), { minLength: REPOS, maxLength: REPOS }),
  /** Each delivery: its repository and when it is sent. */
  deliveries: fc.array(
    fc.record({ repo: fc.nat({ max: REPOS - 1 }), at: fc.integer({ min: 0, max: 30 }) }),
    { minLength: 2, maxLength: 12 },
  ),
  /** When the process "dies": the database file and WAL are copied as they are. */
  crashes: fc.array(fc.integer({ min: 0, max: 120 }), { minLength: 4, maxLength: 10 }),
});

describe("any interleaving: a crash image never holds half of a delivery", () => {
  it("injects: crash images at random moments (4–10 per run, 12 runs) of deliveries to cold and warm repositories with random config latencies — acknowledged lost 0, half-written 0", async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const dir = mkdtempSync(join(tmpdir(), "bg-interleave-"));
        const github = await fakeGitHub((repo) => s.delays[Number(repo.slice(7))] ?? 0);
        const path = join(dir, "store.db");
        const store = await openStore({ path });
        const probot = new Probot({
          appId: 123,
          privateKey: testPrivateKey(),
          secret: WEBHOOK_SECRET,
          baseUrl: github.url,
          logLevel: "fatal",
          Octokit: ProbotOctokit.defaults({
            retry: { enabled: false },
            throttle: { enabled: false },
          }),
        });
        const log = memoryLogger();
        const { server } = await createBgAgent({
          env: readEnv({ BG_DB_PATH: ":memory:", BG_WORKER: "off" }),
          processEnv: {},
          store,
          probot,
          log,
          identity: {},
          retention: false,
          routes: [],
        });
        try {
          for (const [i, w] of s.warm.entries())
            if (w) await seedConfig(store, repoName(i), { automerge: {} });
          await server.listen(0, "127.0.0.1");
          const app = { url: server.url(), probot };
          const list = s.deliveries.map((d, i) => ({
            id: `d-${i}`,
            source: `pr:${i + 1}`,
            repo: repoName(d.repo),
            at: d.at,
          }));
          const acked = new Set<string>();
          const images: { path: string; ackedBefore: Set<string> }[] = [];
          const crashes = s.crashes.map(
            (at, k) =>
              new Promise<void>((resolve) =>
                setTimeout(() => {
                  const copy = join(dir, `crash-${k}.db`);
                  copyFileSync(path, copy);
                  if (existsSync(`${path}-wal`)) copyFileSync(`${path}-wal`, `${copy}-wal`);
                  images.push({ path: copy, ackedBefore: new Set(acked) });
                  resolve();
                }, at),
              ),
          );
          const sends = list.map(
            (d, i) =>
              new Promise<void>((resolve, reject) =>
                setTimeout(() => {
                  deliver(app, {
                    name: "pull_request",
                    id: d.id,
                    payload: pullRequestEvent({ repo: d.repo, number: i + 1 }),
                  }).then((r) => {
                    if (r.status === 200) acked.add(d.id);
                    resolve();
                  }, reject);
                }, d.at),
              ),
          );
          await Promise.all([...sends, ...crashes]);
          expect(acked.size).toBe(list.length);
          for (const image of images) {
            const db = await openSqlite({ path: image.path });
            try {
              const records = new Set(
                (db.prepare("SELECT id FROM deliveries").all() as { id: string }[]).map(
                  (r) => r.id,
                ),
              );
              const tasks = new Set(
                (
                  db.prepare("SELECT repo, source FROM tasks").all() as {
                    repo: string;
                    source: string;
                  }[]
                ).map((t) => `${t.repo} ${t.source}`),
              );
              const lost = list.filter(
                (d) => image.ackedBefore.has(d.id) && !records.has(d.id),
              ).length;
              const halfWritten = list.filter(
                (d) => records.has(d.id) !== tasks.has(`${d.repo} ${d.source}`),
              ).length;
              expect({ lost, halfWritten }).toEqual({ lost: 0, halfWritten: 0 });
            } finally {
              db.close();
            }
          }
        } finally {
          await server.close();
          await store.close();
          await github.close();
          rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 12 },
    );
  }, 60_000);
});

import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import nock from "nock";
import { afterEach, describe, expect, it } from "vitest";
import { openStore } from "../../src/store/index.js";
import type { Store } from "../../src/store/index.js";
import { deliver, seedConfig, startTestApp } from "../helpers/app-server.js";
import type { TestApp } from "../helpers/app-server.js";
import { issuesEvent, pullRequestEvent } from "../helpers/payloads.js";

const REPOS = ["octo/a", "octo/b", "octo/c"];
const DELIVERIES = 150;
const CONCURRENCY = 12;

/** Delivery i: its own PR (an automerge task) or labelled issue (an analysis task). */
function delivery(i: number): { id: string; name: string; payload: unknown; source: string } {
  const repo = REPOS[i % REPOS.length]!;
  const n = 100 + i;
  return i % 3 === 2
    ? {
        id: randomUUID(),
        name: "issues",
        payload: issuesEvent({ action: "labeled", number: n, repo, labels: ["tech-debt"] }),
        source: `${repo} issue:${n}`,
      }
    : {
        id: randomUUID(),
        name: "pull_request",
        payload: pullRequestEvent({ number: n, repo }),
        source: `${repo} pr:${n}`,
      };
}

/** A deterministic shuffle (mulberry32), so a failure replays the same order. */
function shuffle<T>(list: T[], seed: number): T[] {
  let a = seed;
  const rnd = (): number => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

async function sendAll<T>(items: T[], fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

describe("duplicates: every delivery sent three times, shuffled, interleaved, across a restart", () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  it(`injects: 3 copies of each of ${DELIVERIES} deliveries (${CONCURRENCY} in flight) and a restart after a third of the sends — lost 0, done twice 0`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "bg-dups-"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, "store.db");
    const open = async (): Promise<{ store: Store; app: TestApp }> => {
      const store = await openStore({ path });
      for (const r of REPOS) await seedConfig(store, r, {});
      const app = await startTestApp({ store });
      return { store, app };
    };
    const list = Array.from({ length: DELIVERIES }, (_, i) => delivery(i));
    const sends = shuffle(
      list.flatMap((d) => [d, d, d]),
      13,
    );
    const answers = new Map<string, { ok: number; duplicate: number; other: number }>();
    const send = (app: TestApp) => async (d: (typeof list)[number]) => {
      const r = await deliver(app, { name: d.name, payload: d.payload, id: d.id });
      const a = answers.get(d.id) ?? { ok: 0, duplicate: 0, other: 0 };
      if (r.status !== 200) a.other++;
      else if (r.body.duplicate) a.duplicate++;
      else a.ok++;
      answers.set(d.id, a);
    };

    let run = await open();
    const third = Math.floor(sends.length / 3);
    await sendAll(sends.slice(0, third), send(run.app));
    // Restart: a new server (and store) on the same SQLite file.
    await run.app.close();
    await run.store.close();
    run = await open();
    cleanup.push(async () => {
      await run.app.close();
      await run.store.close();
    });
    await sendAll(sends.slice(third), send(run.app));

    const tasks = await run.store.tasks.list({ limit: 10_000 });
    const bySource = new Map<string, number>();
    for (const t of tasks) {
      const k = `${t.repo} ${t.source}`;
      bySource.set(k, (bySource.get(k) ?? 0) + 1);
    }
    const lost = list.filter((d) => !bySource.has(d.source)).length;
    const twice = [...bySource.values()].filter((n) => n > 1).length;
    const processedTwice = [...answers.values()].filter((a) => a.ok > 1).length;
    expect({ lost, twice, processedTwice }).toEqual({ lost: 0, twice: 0, processedTwice: 0 });
    expect(tasks).toHaveLength(DELIVERIES);
    // Each delivery: exactly one outcome, the other two copies answered as duplicates.
    expect(
      [...answers.values()].every((a) => a.ok === 1 && a.duplicate === 2 && a.other === 0),
    ).toBe(true);
    expect((await run.store.deliveries.countsByEvent()).reduce((n, e) => n + e.count, 0)).toBe(
      DELIVERIES,
    );
    expect(nock.pendingMocks()).toEqual([]);
  });
});

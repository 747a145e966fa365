import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { memoryLogger } from "../../src/log.js";
import type { Store } from "../../src/store/index.js";
import type { RunFilter } from "../../src/store/runs.js";
import type { RunKind } from "../../src/core/domain.js";
import { memoryStore } from "../helpers/store.js";
import type { Served } from "./serve.js";
import { serveWeb, TOKEN } from "./serve.js";

const N = 100_000;
const REPOS = ["acme/api", "acme/web", "acme/docs", "other/big"];
const KINDS: RunKind[] = ["analysis", "automerge", "fix", "prompt_task", "command"];

describe("100,000 runs", () => {
  let store: Store;
  let served: Served;

  beforeAll(async () => {
    store = await memoryStore();
    const t0 = Date.parse("2026-01-01T00:00:00Z");
    await store.tx(async (t) => {
      for (let i = 0; i < N; i++) {
        await t.runs.record({
          repo: REPOS[i % REPOS.length]!,
          kind: KINDS[i % KINDS.length]!,
          ref: `issue:${i}`,
          status: i % 7 === 0 ? "failed" : "ok",
          startedAt: t0 + i * 1000,
          usage: { promptTokens: 100, cachedTokens: 10, completionTokens: 5, costUsd: 0.001 },
        });
      }
    });
    served = await serveWeb({ store, log: memoryLogger() });
  }, 120_000);
  afterAll(async () => {
    await served.close();
    await store.close();
  });

  const get = async (q: string) => {
    const res = await fetch(`${served.url}/bg/api/runs${q}`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(res.status).toBe(200);
    return (await res.json()) as {
      runs: { id: number; repo: string; kind: string }[];
      nextBefore: number | null;
    };
  };

  it("serves the newest page first and pages back by id without gaps or repeats", async () => {
    const first = await get("?limit=50");
    expect(first.runs).toHaveLength(50);
    expect(first.runs[0]!.id).toBe(N);
    expect(first.runs[49]!.id).toBe(N - 49);
    expect(first.nextBefore).toBe(N - 49);
    const second = await get(`?limit=50&before=${first.nextBefore}`);
    expect(second.runs.map((r) => r.id)).toEqual(Array.from({ length: 50 }, (_, i) => N - 50 - i));
    const deep = await get("?limit=500&before=301");
    expect(deep.runs).toHaveLength(300);
    expect(deep.runs.at(-1)!.id).toBe(1);
    expect(deep.nextBefore).toBeNull();
  });

  it("pages one repository and one kind by id too", async () => {
    const p = await get("?repo=other/big&kind=fix&limit=20");
    expect(p.runs).toHaveLength(20);
    expect(p.runs.every((r) => r.repo === "other/big" && r.kind === "fix")).toBe(true);
    const ids = p.runs.map((r) => r.id);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    // Run i (id i+1) has repo i % 4 and kind i % 5: other/big (3) and fix (2) meet at i ≡ 7 (mod 20).
    expect(ids[0]).toBe(N - 12);
    expect(ids.every((id) => id % 20 === 8)).toBe(true);
    const next = await get(`?repo=other/big&kind=fix&limit=20&before=${p.nextBefore}`);
    expect(next.runs[0]!.id).toBeLessThan(ids.at(-1)!);
    const byRepo = await get("?repo=acme/web&limit=10");
    expect(byRepo.runs.every((r) => r.repo === "acme/web")).toBe(true);
  });

  it("answers every filter combination from an index, never a scan plus sort", async () => {
    const filters: RunFilter[] = [
      {},
      { beforeId: 5000 },
      { repo: "acme/api" },
      { repo: "acme/api", beforeId: 5000 },
      { kind: "fix" },
      { kind: "fix", beforeId: 5000 },
      { repo: "acme/api", kind: "fix" },
      { repo: "acme/api", kind: "fix", beforeId: 5000 },
    ];
    for (const f of filters) {
      const plan = (await store.runs.explainList(f)).join(" | ");
      expect(plan, JSON.stringify(f)).not.toMatch(/TEMP B-TREE/);
      expect(plan, JSON.stringify(f)).toMatch(
        /USING (INTEGER PRIMARY KEY|INDEX|COVERING INDEX)|SCAN runs/,
      );
      if (f.repo || f.kind)
        expect(plan, JSON.stringify(f)).toMatch(
          /SEARCH runs USING INDEX runs_(repo|kind|repo_kind)_id/,
        );
      else if (f.beforeId)
        expect(plan).toMatch(/SEARCH runs USING INTEGER PRIMARY KEY \(rowid<\?\)/);
    }
  });
});

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { memoryLogger } from "../../src/log.js";
import type { Store } from "../../src/store/index.js";
import { memoryStore } from "../helpers/store.js";
import type { Served } from "./serve.js";
import { HTML_REPO, seed, serveWeb, TOKEN } from "./serve.js";

const NOW = Date.parse("2026-11-22T12:00:00Z");

/** `name{labels} value` lines of a Prometheus text scrape, as a map. */
function parse(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
}

describe("/bg/metrics", () => {
  let store: Store;
  let served: Served;
  beforeEach(async () => {
    store = await memoryStore();
    await seed(store, NOW);
    served = await serveWeb({ store, log: memoryLogger(), now: () => NOW });
  });
  afterEach(async () => {
    await served.close();
    await store.close();
  });

  it("computes every metric from the store at scrape time", async () => {
    const res = await fetch(`${served.url}/bg/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const m = parse(text);
    expect(m.get('bg_deliveries{event="pull_request"}')).toBe(2);
    expect(m.get('bg_deliveries{event="issues"}')).toBe(1);
    expect(m.get('bg_tasks{type="tech_debt_analysis",status="pending"}')).toBe(3);
    expect(m.get('bg_tasks{type="tech_debt_analysis",status="done"}')).toBe(2);
    expect(m.get('bg_tasks{type="automerge",status="pending"}')).toBe(2);
    expect(m.get('bg_tasks{type="automerge",status="running"}')).toBe(1);
    expect(m.get('bg_tasks{type="fix",status="failed"}')).toBe(1);
    expect(m.get('bg_tasks{type="command",status="pending"}')).toBe(0);
    expect(m.get('bg_batches_total{type="tech_debt_analysis",status="done"}')).toBe(1);
    expect(m.get('bg_batch_items_total{type="tech_debt_analysis"}')).toBe(2);
    expect(m.get('bg_llm_tokens_total{kind="prompt"}')).toBe(4000);
    expect(m.get('bg_llm_tokens_total{kind="cached"}')).toBe(1000);
    expect(m.get('bg_llm_tokens_total{kind="completion"}')).toBe(800);
    expect(m.get("bg_llm_cost_usd_total")).toBeCloseTo(1.6, 10);
    expect(m.get("bg_llm_calls_total")).toBe(4);
    expect(m.get('bg_llm_cost_usd{period="day"}')).toBeCloseTo(0.5, 10);
    expect(m.get("bg_merges_total")).toBe(1);
    expect(m.get('bg_failures_total{kind="fix"}')).toBe(1);
    expect(m.get('bg_runs_total{kind="analysis",status="ok"}')).toBe(2);
    // Seeded pending tasks became due 60 s before NOW.
    expect(m.get('bg_queue_oldest_age_seconds{type="tech_debt_analysis"}')).toBe(60);
    expect(m.get('bg_queue_oldest_age_seconds{type="fix"}')).toBe(0);
    expect(m.get('bg_automerge_prs{state="waiting"}')).toBe(1);
    expect(m.get('bg_repositories{state="active"}')).toBe(2);
    expect(m.get('bg_repositories{state="waiting"}')).toBe(1);
    expect(m.get("bg_paused_all")).toBe(0);
    // Counts only: no repository names (the HTML-named one included) in any label.
    expect(text).not.toContain("acme");
    expect(text).not.toContain("evil");

    // Another scrape sees new state without anything having incremented a counter.
    await store.activity.pause("*", "admin", null);
    await store.spend.add(
      "acme/api",
      { promptTokens: 10, cachedTokens: 0, completionTokens: 1, costUsd: 0.5 },
      NOW,
    );
    const m2 = parse(await (await fetch(`${served.url}/bg/metrics`)).text());
    expect(m2.get("bg_paused_all")).toBe(1);
    expect(m2.get("bg_llm_cost_usd_total")).toBeCloseTo(2.1, 10);
    expect(m2.get('bg_repositories{state="paused"}')).toBe(3);
    expect(HTML_REPO).toContain("evil");
  });

  it("needs BG_METRICS_TOKEN (or the admin token) as a bearer when it is set", async () => {
    const locked = await serveWeb({
      store,
      log: memoryLogger(),
      metricsToken: "metrics-token-123456",
    });
    try {
      expect((await fetch(`${locked.url}/bg/metrics`)).status).toBe(401);
      expect(
        (await fetch(`${locked.url}/bg/metrics`, { headers: { authorization: "Bearer nope" } }))
          .status,
      ).toBe(401);
      const ok = await fetch(`${locked.url}/bg/metrics`, {
        headers: { authorization: "Bearer metrics-token-123456" },
      });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain("bg_tasks");
      const admin = await fetch(`${locked.url}/bg/metrics`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(admin.status).toBe(200);
    } finally {
      await locked.close();
    }
  });

  it("scrapes an empty store", async () => {
    const empty = await memoryStore();
    const s = await serveWeb({ store: empty, log: memoryLogger() });
    try {
      const m = parse(await (await fetch(`${s.url}/bg/metrics`)).text());
      expect(m.get('bg_tasks{type="automerge",status="pending"}')).toBe(0);
      expect(m.get("bg_llm_cost_usd_total")).toBe(0);
      expect(m.get("bg_merges_total")).toBe(0);
    } finally {
      await s.close();
    }
  });
});

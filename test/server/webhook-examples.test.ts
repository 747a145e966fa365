import nock from "nock";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueContentHash } from "../../src/util/hash.js";
import { deliver, seedConfig, startTestApp } from "../helpers/app-server.js";
import type { TestApp } from "../helpers/app-server.js";
import { EVENTS, examples } from "../helpers/webhook-examples.js";

const reposIn = (p: Record<string, unknown>): string[] => {
  const out: string[] = [];
  const add = (r: unknown) => {
    if (r && typeof r === "object" && "full_name" in r && typeof r.full_name === "string")
      out.push(r.full_name);
  };
  add(p.repository);
  for (const k of ["repositories", "repositories_added", "repositories_removed"]) {
    const list = p[k];
    if (Array.isArray(list)) list.forEach(add);
  }
  return out;
};

describe("every @octokit/webhooks-examples payload through the real server", () => {
  let app: TestApp;
  const unmatched: string[] = [];
  const onNoMatch = (req: { method?: string; path?: string; href?: string }) => {
    const where = req.href ?? req.path ?? "";
    if (!/^https?:\/\/127\.0\.0\.1[:/]/.test(where)) unmatched.push(`${req.method} ${where}`);
  };
  const answers: { name: string; action: unknown; variant: string; status: number }[] = [];

  beforeAll(async () => {
    nock.emitter.on("no match", onNoMatch);
    app = await startTestApp();
    const repos = new Set(examples.flatMap((e) => reposIn(e.payload)));
    for (const r of repos)
      await seedConfig(app.store, r, { tech_debt: { github: { labels: ["bug", "tech-debt"] } } });
    for (const e of examples) {
      // As GitHub sent it, then as an installed app would receive it (most examples come from repository webhooks).
      const variants: [string, Record<string, unknown>][] = [["as-is", e.payload]];
      if (!e.payload.installation)
        variants.push(["installed", { ...e.payload, installation: { id: 1, node_id: "MDIz" } }]);
      for (const [variant, payload] of variants) {
        const r = await deliver(app, { name: e.name, payload });
        answers.push({ name: e.name, action: payload.action, variant, status: r.status });
      }
    }
  });

  afterAll(async () => {
    nock.emitter.off("no match", onNoMatch);
    await app.close();
  });

  it("covers the events bg-agent subscribes to", () => {
    expect(examples.length).toBeGreaterThan(100);
    expect(new Set(examples.map((e) => e.name))).toEqual(new Set(EVENTS));
  });

  it("answers every delivery with a 2xx and makes no network call", () => {
    const bad = answers.filter((a) => a.status < 200 || a.status >= 300);
    expect(bad).toEqual([]);
    expect(unmatched).toEqual([]);
    expect(app.log.lines.filter((l) => l.level === "error")).toEqual([]);
    // Every example fits the payload schemas the handlers rely on.
    expect(app.log.lines.filter((l) => l.level === "warn")).toEqual([]);
    expect(app.log.lines.filter((l) => /could not (read|load)/.test(l.msg))).toEqual([]);
  });

  it("records every delivery once", async () => {
    const total = (await app.store.deliveries.countsByEvent()).reduce((n, c) => n + c.count, 0);
    expect(total).toBe(answers.length);
  });

  it("leaves the store consistent", async () => {
    const tasks = await app.store.tasks.list({ limit: 10_000 });
    const repos = new Map((await app.store.repos.list()).map((r) => [r.fullName.toLowerCase(), r]));
    // Work was recorded from the examples.
    expect(tasks.filter((t) => t.type === "automerge").length).toBeGreaterThan(0);
    expect(tasks.filter((t) => t.type === "tech_debt_analysis").length).toBeGreaterThan(0);
    expect((await app.store.activity.list()).length).toBeGreaterThan(0);
    const open = new Map<string, number>();
    for (const t of tasks) {
      const repo = repos.get(t.repo.toLowerCase());
      // No task without a known repository; nothing pending for a repository bg-agent left.
      expect(repo, `task ${t.id} ${t.repo}`).toBeDefined();
      if (t.status === "pending")
        expect(repo?.installed, `pending task for removed ${t.repo}`).toBe(true);
      if (t.status === "pending" || t.status === "running") {
        const k = `${t.repo.toLowerCase()}|${t.type}|${t.source}`;
        open.set(k, (open.get(k) ?? 0) + 1);
      }
      if (t.type === "automerge") {
        if (t.source.startsWith("pr:")) expect(t.payload.pr).toBe(Number(t.source.slice(3)));
        else expect(t.source).toBe(`sha:${String(t.payload.headSha)}`);
      }
      if (t.type === "tech_debt_analysis") {
        const n = Number(t.source.slice("issue:".length));
        expect(t.payload).toMatchObject({ key: `${t.repo}#${n}`, number: n });
        expect(t.contentHash).toBe(
          issueContentHash(String(t.payload.title), String(t.payload.body)),
        );
      }
    }
    expect([...open.values()].filter((n) => n > 1)).toEqual([]);
  });
});

import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Task } from "../../src/core/domain.js";
import { deliver, seedConfig, startTestApp } from "../helpers/app-server.js";
import type { TestApp } from "../helpers/app-server.js";
import { EVENTS, examples } from "../helpers/webhook-examples.js";
import { TASK_TYPES } from "../../src/core/task-kinds.js";

/**
 * Fuzz: webhook bodies, signed correctly (so they pass the signature check and reach the
 * handlers). Injects random JSON and mutated real deliveries (@octokit/webhooks-examples) under
 * the events bg-agent subscribes to. Never a 5xx, the server stays up, no task from random JSON,
 * and every task a mutated delivery queues is well-formed (lost 0: a 2xx for a valid delivery
 * keeps its task; done twice 0: a redelivery of the same id creates nothing).
 */

type Json = unknown;
/** Every path (list of keys) into a JSON value, the root included. */
function paths(v: Json, at: (string | number)[] = [], out: (string | number)[][] = []) {
  out.push(at);
  if (out.length > 5000) return out;
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, i], out));
  else if (v && typeof v === "object")
    for (const [k, x] of Object.entries(v)) paths(x, [...at, k], out);
  return out;
}
/** A copy of `v` with the value at `path` replaced (or deleted when `value` is undefined). */
function edit(v: Json, path: (string | number)[], value: Json | undefined): Json {
  if (!path.length) return value === undefined ? null : value;
  const [head, ...rest] = path;
  if (Array.isArray(v)) {
    const copy = [...v];
    if (rest.length || value !== undefined)
      copy[head as number] = edit(v[head as number], rest, value);
    else copy.splice(head as number, 1);
    return copy;
  }
  const o = { ...(v as Record<string, Json>) };
  if (rest.length || value !== undefined) o[head as string] = edit(o[head as string], rest, value);
  else delete o[head as string];
  return o;
}

const TASK_SOURCE =
  /^(pr:\d+|sha:[0-9a-f]{40}(?:[0-9a-f]{24})?|issue:\d+|linear:.+|schedule:.+|comment:\d+)$/;
const wellFormed = (t: Task) =>
  /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(t.repo) &&
  (TASK_TYPES as readonly string[]).includes(t.type) &&
  TASK_SOURCE.test(t.source);

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
  const repos = new Set<string>();
  for (const e of examples) {
    const r = (e.payload.repository as { full_name?: unknown } | undefined)?.full_name;
    if (typeof r === "string") repos.add(r);
  }
  for (const r of repos)
    await seedConfig(app.store, r, { tech_debt: { github: { labels: ["bug", "tech-debt"] } } });
});
afterAll(() => app.close());

const ping = async () => (await fetch(`${app.url}/ping`)).status;

describe("fuzz: signed webhook bodies", () => {
  it("injects 300 random JSON bodies under real event names: never a 5xx, 0 tasks, the server stays up", async () => {
    const before = (await app.store.tasks.list()).length;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...EVENTS),
        fc.jsonValue({ maxDepth: 4 }),
        async (name, v) => {
          const r = await deliver(app, { name, payload: v });
          expect(r.status).toBeLessThan(500);
        },
      ),
      { numRuns: 300 },
    );
    expect((await app.store.tasks.list()).length).toBe(before);
    expect(await ping()).toBe(200);
  });

  it("injects 300 objects with the top-level keys of real deliveries and random values: never a 5xx, 0 tasks", async () => {
    const before = (await app.store.tasks.list()).length;
    const key = fc.constantFrom(
      "action",
      "number",
      "pull_request",
      "issue",
      "comment",
      "repository",
      "installation",
      "sender",
      "check_run",
      "check_suite",
      "state",
      "sha",
      "ref",
      "commits",
      "repositories_added",
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...EVENTS),
        fc.dictionary(key, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 8 }),
        async (name, v) => {
          const r = await deliver(app, { name, payload: v });
          expect(r.status).toBeLessThan(500);
        },
      ),
      { numRuns: 300 },
    );
    expect((await app.store.tasks.list()).length).toBe(before);
    expect(await ping()).toBe(200);
  });

  it("injects 400 mutated real deliveries (fields deleted, replaced by random JSON): never a 5xx, only well-formed tasks, a redelivery adds 0", async () => {
    const mutation = fc.record({
      ex: fc.nat({ max: examples.length - 1 }),
      edits: fc.array(
        fc.record({
          at: fc.nat(),
          value: fc.option(
            fc.oneof(
              fc.jsonValue({ maxDepth: 2 }),
              fc.string({ maxLength: 5000 }),
              fc.constantFrom(null, -1, 0, 2 ** 53, "", "../../etc", "octo/demo", []),
            ),
            { nil: undefined },
          ),
        }),
        { minLength: 1, maxLength: 4 },
      ),
    });
    await fc.assert(
      fc.asyncProperty(mutation, async (m) => {
        const e = examples[m.ex]!;
        let payload: Json = { ...e.payload, installation: e.payload.installation ?? { id: 1 } };
        for (const ed of m.edits) {
          const all = paths(payload);
          payload = edit(payload, all[ed.at % all.length]!, ed.value);
        }
        const id = crypto.randomUUID();
        const r = await deliver(app, { name: e.name, payload, id });
        expect(r.status).toBeLessThan(500);
        if (r.status >= 300) return;
        const after = (await app.store.tasks.list()).length;
        const again = await deliver(app, { name: e.name, payload, id });
        expect(again.status).toBeLessThan(500);
        expect((await app.store.tasks.list()).length).toBe(after);
      }),
      { numRuns: 400 },
    );
    const bad = (await app.store.tasks.list()).filter((t) => !wellFormed(t));
    expect(bad).toEqual([]);
    expect(await ping()).toBe(200);
  });
});

import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inputSchema } from "../../action/src/inputs.js";
import { processorTimeoutSchema } from "../../src/config/schema.js";
import {
  MODES,
  ORDER,
  PRIORITY,
  RUN_KINDS,
  TASK_KINDS,
  TASK_TYPES,
  TYPES_BY_MODE,
  kindOf,
  runKindOf,
} from "../../src/core/task-kinds.js";
import { TASK_STATUSES } from "../../src/core/domain.js";
import { claimBodySchema, recordsSchema, wireTaskSchema } from "../../src/core/wire.js";
import { memoryLogger } from "../../src/log.js";
import { createProcessors } from "../../src/processors/index.js";
import { PROCESSOR_BINDINGS } from "../../src/processors/registry.js";
import type { Store } from "../../src/store/index.js";
import { DASHBOARD_CLIENT_JS } from "../../src/web/dashboard-client.js";
import { memoryStore } from "../helpers/store.js";
import type { Served } from "../web/serve.js";
import { serveWeb, TOKEN } from "../web/serve.js";

const ROOT = join(import.meta.dirname, "../..");
/** The registry, and its processor half (a mapped type over TaskType: exhaustive by construction). */
const REGISTRY = ["src/core/task-kinds.ts", "src/processors/registry.ts"];
const sorted = (xs: readonly string[]): string[] => [...xs].sort();

describe("the task-kind registry", () => {
  it("gives every kind a processor of its type, a priority, an order, modes and a run kind", () => {
    expect(TASK_KINDS.length).toBeGreaterThan(0);
    for (const k of TASK_KINDS) {
      const binding = PROCESSOR_BINDINGS[k.type];
      expect(binding, `${k.type}: no processor in src/processors/registry.ts`).toBeDefined();
      expect(binding.create().type, `${k.type}: its processor runs another type`).toBe(k.type);
      expect(Number.isFinite(k.priority), `${k.type}: priority`).toBe(true);
      expect(Number.isInteger(k.order), `${k.type}: order`).toBe(true);
      expect(k.modes.length, `${k.type}: no mode runs it but all`).toBeGreaterThan(0);
      for (const m of k.modes) expect(MODES).toContain(m);
      expect(RUN_KINDS).toContain(k.runKind);
      expect(k.description.length, `${k.type}: description`).toBeGreaterThan(0);
      // A payload schema that takes something: a task without one is refused, not run.
      expect(binding.payload.safeParse(null).success, `${k.type}: payload schema`).toBe(false);
      expect(kindOf(k.type)).toBe(k);
      expect(runKindOf(k.type)).toBe(k.runKind);
    }
    // No kind twice, no two kinds at the same place in the pass.
    expect(new Set(TASK_TYPES).size).toBe(TASK_KINDS.length);
    expect(new Set(TASK_KINDS.map((k) => k.order)).size).toBe(TASK_KINDS.length);
    // No binding for a type the registry does not declare.
    expect(sorted(Object.keys(PROCESSOR_BINDINGS))).toEqual(sorted(TASK_TYPES));
  });

  it("derives the pass's order, the priorities and the modes' types from the kinds", () => {
    expect(sorted(ORDER)).toEqual(sorted(TASK_TYPES));
    expect(createProcessors().map((p) => p.type)).toEqual(ORDER);
    expect(PRIORITY).toEqual(Object.fromEntries(TASK_KINDS.map((k) => [k.type, k.priority])));
    // Interactive commands first, then merges, then LLM work (claims are by priority).
    expect(ORDER[0]).toBe("command");
    expect(Math.max(...Object.values(PRIORITY))).toBe(PRIORITY.command);
    expect(sorted(TYPES_BY_MODE.all)).toEqual(sorted(TASK_TYPES));
    for (const m of MODES) {
      // Commands always run: they are what people are waiting on.
      expect(TYPES_BY_MODE[m], m).toContain("command");
      for (const t of TYPES_BY_MODE[m]) expect(TASK_TYPES).toContain(t);
    }
    const union = new Set(MODES.filter((m) => m !== "all").flatMap((m) => TYPES_BY_MODE[m]));
    expect(sorted([...union])).toEqual(sorted(TASK_TYPES));
  });

  it("is what the config's processor_timeout, the wire protocol and the Action's modes accept", () => {
    expect(Object.keys(processorTimeoutSchema.shape)).toEqual(ORDER);
    for (const t of TASK_TYPES) {
      expect(claimBodySchema.safeParse({ types: [t] }).success, t).toBe(true);
      expect(wireTaskSchema.shape.type.safeParse(t).success, t).toBe(true);
    }
    expect(claimBodySchema.safeParse({ types: ["no_such_type"] }).success).toBe(false);
    for (const kind of RUN_KINDS) {
      const none = { ref: null, url: null, taskId: null, localBatchId: null };
      const usage = { promptTokens: 0, cachedTokens: 0, completionTokens: 0, costUsd: 0 };
      const done = { status: "ok", summary: null, error: null, startedAt: 1, finishedAt: 2 };
      const run = { kind, ...none, ...usage, ...done };
      expect(recordsSchema.safeParse({ runs: [run] }).success, kind).toBe(true);
      expect(recordsSchema.safeParse({ runs: [{ ...run, kind: "bogus" }] }).success).toBe(false);
    }
    for (const m of MODES) expect(inputSchema.shape.mode.parse(m)).toBe(m);
    expect(inputSchema.shape.mode.safeParse("everything").success).toBe(false);
    const actionYml = readFileSync(join(ROOT, "action/action.yml"), "utf8");
    const described = /mode:\s*\n\s*description: "What to do: ([^.]*)\./.exec(actionYml)?.[1];
    expect(described?.split(/, | or /)).toEqual([...MODES]);
  });

  it("is the dashboard's list of task types", () => {
    const m = /var TYPES = (\[[^\]]*\]);/.exec(DASHBOARD_CLIENT_JS);
    expect(m, "the dashboard script declares TYPES").not.toBeNull();
    expect(JSON.parse(m![1]!)).toEqual([...TASK_TYPES]);
    const statuses = /var STATUSES = (\[[^\]]*\]);/.exec(DASHBOARD_CLIENT_JS);
    expect(JSON.parse(statuses![1]!)).toEqual([...TASK_STATUSES]);
  });

  describe("the store and the admin API", () => {
    let store: Store;
    let served: Served;
    beforeAll(async () => {
      store = await memoryStore();
      served = await serveWeb({ store, log: memoryLogger() });
    });
    afterAll(async () => {
      await served.close();
      await store.close();
    });
    const get = (q: string) =>
      fetch(`${served.url}/bg/api/${q}`, { headers: { authorization: `Bearer ${TOKEN}` } });

    it("queues every kind at its priority, and filters tasks and runs by every type and run kind", async () => {
      for (const k of TASK_KINDS) {
        const { task } = await store.tasks.enqueue({
          repo: "acme/api",
          type: k.type,
          source: "x:1",
        });
        expect(task.priority, k.type).toBe(k.priority);
        await store.runs.record({ repo: "acme/api", kind: k.runKind, status: "ok" });
      }
      for (const t of TASK_TYPES) {
        const res = await get(`tasks?type=${t}`);
        expect(res.status, t).toBe(200);
        const body = (await res.json()) as { tasks: { type: string }[] };
        expect(body.tasks.map((x) => x.type)).toEqual([t]);
      }
      for (const kind of RUN_KINDS) {
        const res = await get(`runs?kind=${kind}`);
        expect(res.status, kind).toBe(200);
        const body = (await res.json()) as { runs: { kind: string }[] };
        expect(body.runs.map((r) => r.kind)).toEqual(
          TASK_KINDS.filter((k) => k.runKind === kind).map(() => kind),
        );
      }
      expect((await get("tasks?type=no_such_type")).status).toBe(400);
      expect((await get("runs?kind=no_such_kind")).status).toBe(400);
    });
  });

  /** Source files of the app, the CLI and the Action (not tests). */
  function sources(dir: string): string[] {
    return readdirSync(dir).flatMap((f) => {
      const p = join(dir, f);
      if (statSync(p).isDirectory()) return sources(p);
      return p.endsWith(".ts") ? [p] : [];
    });
  }

  it("has no hand-written list of task types or run kinds anywhere else in src/ and action/src/", () => {
    const names = new Set<string>([...TASK_TYPES, ...RUN_KINDS]);
    const offenders: string[] = [];
    for (const file of [...sources(join(ROOT, "src")), ...sources(join(ROOT, "action/src"))]) {
      const rel = relative(ROOT, file);
      if (REGISTRY.includes(rel)) continue;
      offenders.push(...handListsIn(rel, readFileSync(file, "utf8"), names));
    }
    expect(offenders).toEqual([]);
  });

  it("the scan finds the lists this registry replaced (it would have failed before)", () => {
    const names = new Set<string>([...TASK_TYPES, ...RUN_KINDS]);
    const before = [
      `const ORDER: readonly TaskType[] = [\n  "command",\n  "automerge",\n  "fix",\n];`,
      `export const PRIORITY = {\n  command: 100,\n  tech_debt_analysis: 10,\n  prompt_task: 10,\n} as const;`,
      `  var TYPES = ["automerge", "tech_debt_analysis", "fix", "prompt_task", "command"];`,
    ];
    for (const src of before)
      expect(handListsIn("x.ts", src, names).length, src).toBeGreaterThan(0);
    // Not a list of types: a single name, the config's sections.
    expect(handListsIn("x.ts", `if (p.type === "command") x = ["fix"];`, names)).toEqual([]);
  });
});

/**
 * Array literals naming two or more task types or run kinds, and object literals keyed by the
 * names only task types have: a list that should be derived from the registry.
 */
function handListsIn(file: string, text: string, names: ReadonlySet<string>): string[] {
  const found: string[] = [];
  const lineOf = (i: number) => text.slice(0, i).split("\n").length;
  for (const m of text.matchAll(/\[([^[\]]*)\]/g)) {
    const named = [...m[1]!.matchAll(/"([a-z_]+)"/g)].map((x) => x[1]!).filter((x) => names.has(x));
    if (new Set(named).size >= 2) found.push(`${file}:${lineOf(m.index)} [${named.join(", ")}]`);
  }
  for (const m of text.matchAll(/^\s*"?(tech_debt_analysis|prompt_task)"?\s*:/gm))
    found.push(`${file}:${lineOf(m.index)} key ${m[1]}`);
  return found;
}

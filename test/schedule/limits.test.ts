import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { proposeTask } from "../../src/schedule/proposals.js";
import { syncSchedules } from "../../src/schedule/sync.js";
import { memoryStore } from "../helpers/store.js";

const tasks = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ name: `t${i}`, prompt: "p", every: "1d" }));

describe("per-repository task limits", () => {
  it("at most 20 tasks by default: 21 is a config error that names the limit", () => {
    expect(parseConfig({ tasks: tasks(20) }).ok).toBe(true);
    const r = parseConfig({ tasks: tasks(21) });
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual([
      {
        path: "tasks",
        message:
          "21 tasks are declared but tasks_max is 20: remove 1 or raise tasks_max (at most 100)",
      },
    ]);
  });

  it("tasks_max raises the limit up to 100, not beyond", () => {
    expect(parseConfig({ tasks_max: 30, tasks: tasks(30) }).ok).toBe(true);
    const r = parseConfig({ tasks_max: 101 });
    expect(r.ok).toBe(false);
    expect(r.problems[0]).toMatchObject({ path: "tasks_max", message: "tasks_max is at most 100" });
  });

  it("max_turns defaults to 8 and is at most 50; a bad value is that task's problem only", () => {
    const r = parseConfig({
      tasks: [
        { name: "a", prompt: "p", every: "1d" },
        { name: "b", prompt: "p", every: "1d", max_turns: 51 },
        { name: "c", prompt: "p", every: "1d", max_turns: 50 },
      ],
    });
    if (!r.ok) throw new Error("rejected");
    expect(r.config.tasks.map((t) => [t.name, t.max_turns])).toEqual([
      ["a", 8],
      ["c", 50],
    ]);
    expect(r.problems).toEqual([
      expect.objectContaining({ path: "tasks[1].max_turns", message: "max_turns is at most 50" }),
    ]);
  });

  it("bg-agent cannot propose a task past tasks_max; nothing is written", async () => {
    const store = await memoryStore();
    const r = parseConfig({ tasks_max: 2, tasks: tasks(2) });
    if (!r.ok) throw new Error("rejected");
    await syncSchedules(store, "o/r", r.config.tasks);
    const p = await proposeTask(store, "o/r", r.config, { name: "more", prompt: "p", every: "1d" });
    expect(p).toEqual({
      ok: false,
      why: "this repository has 2 tasks already (tasks_max: 2)",
    });
    expect(await store.schedules.list("o/r")).toHaveLength(2);
    expect(await store.proposals.list({ repo: "o/r" })).toEqual([]);
  });
});

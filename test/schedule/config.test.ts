import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { PROMPT_MAX_CHARS } from "../../src/config/schema.js";

const good = [
  { name: "before", prompt: "Summarise.", every: "30m" },
  {
    name: "after",
    prompt: "Check CI.",
    cron: "0 3 * * *",
    timezone: "Europe/Paris",
    tools: ["read_check_runs"],
  },
];

/** Puts `bad` between two good tasks; returns the problems and the tasks that survived. */
function withBad(bad: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const r = parseConfig({
    ...extra,
    tasks: [good[0], { name: "bad", prompt: "p", ...bad }, good[1]],
  });
  if (!r.ok) throw new Error(`the whole config was rejected: ${JSON.stringify(r.problems)}`);
  return { problems: r.problems, names: r.config.tasks.map((x) => x.name) };
}

describe("task validation: a bad task is rejected with its path, the others keep working", () => {
  const cases: [string, Record<string, unknown>, string, RegExp][] = [
    [
      "a cron expression that does not parse",
      { cron: "61 * * * *" },
      "tasks[1].cron",
      /cron does not parse/,
    ],
    [
      "a cron of the wrong shape",
      { cron: "every day at 3" },
      "tasks[1].cron",
      /cron does not parse/,
    ],
    ["a cron that never fires", { cron: "0 0 30 2 *" }, "tasks[1].cron", /never fires/],
    ["a duration that does not parse", { every: "soon" }, "tasks[1].every", /must be a duration/],
    ["a number for a duration", { every: 30 }, "tasks[1].every", /expected string/],
    [
      "a timeout that does not parse",
      { every: "1h", timeout: "a while" },
      "tasks[1].timeout",
      /must be a duration/,
    ],
    [
      "a timeout over an hour",
      { every: "1h", timeout: "2h" },
      "tasks[1].timeout",
      /between 10s and 1h/,
    ],
    [
      "an unknown tool",
      { every: "1h", tools: ["read_file", "push_commit"] },
      "tasks[1].tools[1]",
      /expected one of/,
    ],
    [
      "a prompt over the size cap",
      { every: "1h", prompt: "x".repeat(PROMPT_MAX_CHARS + 1) },
      "tasks[1].prompt",
      /over 8000 characters/,
    ],
    [
      "every: 1s, below the minimum interval",
      { every: "1s" },
      "tasks[1].every",
      /below the minimum interval 5m/,
    ],
    [
      "a cron firing every minute, below the minimum interval",
      { cron: "* * * * *" },
      "tasks[1].cron",
      /fires every 1m, below the minimum interval 5m/,
    ],
    ["two triggers", { every: "1h", cron: "0 3 * * *" }, "tasks[1]", /exactly one trigger/],
    ["no trigger", {}, "tasks[1]", /exactly one trigger/],
    [
      "an unknown timezone",
      { cron: "0 3 * * *", timezone: "Mars/Olympus" },
      "tasks[1].timezone",
      /unknown timezone/,
    ],
    [
      "a report target that is not one",
      { every: "1h", report_to: "slack" },
      "tasks[1].report_to",
      /issue number, "dashboard" or "check_run"/,
    ],
    ["an idle period of 0 minutes", { idle: { minutes: 0 } }, "tasks[1].idle.minutes", /Too small/],
  ];

  it.each(cases)("%s", (_what, bad, path, message) => {
    const { problems, names } = withBad(bad);
    expect(problems).toHaveLength(1);
    expect(problems[0]!.path).toBe(path);
    expect(problems[0]!.message).toMatch(message);
    expect(names).toEqual(["before", "after"]);
  });

  it("uses the configured minimum interval", () => {
    expect(withBad({ every: "10m" }, { schedule: { min_interval: "15m" } }).problems).toEqual([
      { path: "tasks[1].every", message: "every: 10m is below the minimum interval 15m" },
    ]);
    expect(withBad({ every: "1m" }, { schedule: { min_interval: "1m" } }).problems).toEqual([]);
  });

  it("rejects a second task with the same name", () => {
    const { problems, names } = withBad({ name: "before", every: "1h" });
    expect(problems).toEqual([{ path: "tasks[1].name", message: "duplicate task name before" }]);
    expect(names).toEqual(["before", "after"]);
  });

  it("accepts every trigger kind with its defaults", () => {
    const r = parseConfig({
      tasks: [
        { name: "a", prompt: "p", every: "2h" },
        { name: "b", prompt: "p", cron: "0 3 * * 1-5" },
        { name: "c", prompt: "p", idle: { minutes: 30 } },
        { name: "d", prompt: "p", once: true },
      ],
    });
    expect(r.ok && r.problems).toEqual([]);
    expect(
      r.ok && r.config.tasks.map((x) => [x.notify, x.report_to, x.timeout, x.tools, x.enabled]),
    ).toEqual(Array(4).fill(["on_change", "dashboard", "5m", [], true]));
    expect(r.ok && r.config.tasks[2]!.idle).toEqual({ minutes: 30, cooldown_minutes: 60 });
  });
});

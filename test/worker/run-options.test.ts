import { describe, expect, it } from "vitest";
import { memoryLogger } from "../../src/log.js";
import { openSqlite } from "../../src/store/db.js";
import { runOptions } from "../../src/worker/run-options.js";
import type { RunInputs } from "../../src/worker/run-options.js";

const inputs = (o: Partial<RunInputs> = {}): RunInputs => ({
  repo: "octo/demo",
  mode: "all",
  dryRun: false,
  github: { token: "ghs_run_options_test_token", retries: false },
  llm: { provider: "openai", model: "gpt-4o-mini", apiKey: "sk-test" },
  linear: {},
  openDb: () => openSqlite({ path: ":memory:" }),
  log: memoryLogger(),
  workspace: "/tmp/ws",
  configExtendsAllow: [],
  owner: "cli:1",
  ...o,
});

describe("runOptions: the Action's and the CLI's parsed inputs become the runner's options in one place", () => {
  it("a spend cap, a config path, a run link and the activity interval are carried over in the runner's units", () => {
    const o = runOptions(
      inputs({
        maxCostUsd: 0.5,
        configPath: ".github/other.yml",
        runUrl: "https://github.com/octo/demo/actions/runs/7",
        activityRecheckSeconds: 30,
      }),
    );
    expect(o.runCapUsd).toBe(0.5);
    expect(o.configPath).toBe(".github/other.yml");
    expect(o.runUrl).toBe("https://github.com/octo/demo/actions/runs/7");
    expect(o.activityRecheckMs).toBe(30_000);
    expect(o.llm).toMatchObject({ provider: "openai", model: "gpt-4o-mini" });
    expect(o.linear).toBeUndefined();
  });

  it("what was not given is left to the runner's defaults (no cap, the default config path, no Linear)", () => {
    const o = runOptions(inputs({ configPath: undefined, maxCostUsd: undefined }));
    expect("runCapUsd" in o).toBe(false);
    expect("configPath" in o).toBe(false);
    expect("activityRecheckMs" in o).toBe(false);
    expect("linear" in o).toBe(false);
  });

  it("no LLM key: the options carry the error that says what to set, not settings", () => {
    const o = runOptions(inputs({ llm: {} }));
    expect(o.llm).toBeInstanceOf(Error);
    expect((o.llm as Error).message).toMatch(/BG_LLM_API_KEY/);
  });
});

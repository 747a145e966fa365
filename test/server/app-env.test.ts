import nock from "nock";
import { describe, expect, it } from "vitest";
import { readEnv } from "../../src/env.js";
import { silentLogger } from "../../src/log.js";
import { createAppWorkerEnv } from "../../src/worker/app-env.js";
import { testOctokit } from "../helpers/context.js";
import { memoryStore } from "../helpers/store.js";

describe("the app's worker environment", () => {
  it("authenticates as the repository's installation: from the store, else asked of GitHub and remembered", async () => {
    const store = await memoryStore();
    await store.repos.upsert({ fullName: "octo/known", installationId: 7 });
    const asked: (number | undefined)[] = [];
    const octokit = testOctokit();
    const env = createAppWorkerEnv({
      probot: {
        auth: async (id?: number) => {
          asked.push(id);
          return octokit;
        },
      },
      store,
      log: silentLogger,
      env: readEnv({}),
      processEnv: {},
    });
    await env.github("octo/known");
    nock("https://api.github.com").get("/repos/octo/new/installation").reply(200, { id: 9 });
    await env.github("octo/new");
    expect(asked).toEqual([7, undefined, 9]);
    expect((await store.repos.get("octo/new"))?.installationId).toBe(9);
    expect(nock.pendingMocks()).toEqual([]);
    // No BG_LLM_API_KEY: the LLM is unavailable, with a message saying what to set.
    expect(env.llm).toBeInstanceOf(Error);
    expect(env.dryRun).toBe(false);
  });
});

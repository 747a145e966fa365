import { Octokit } from "@octokit/core";
import nock from "nock";
import { Probot } from "probot";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { pacedProbotOctokit } from "../../src/integrations/probot-octokit.js";
import { pacesOf, sharedWritePace } from "../../src/integrations/write-pace.js";
import { testPrivateKey } from "../helpers/app-server.js";
import { postgresAvailable } from "../helpers/postgres.js";
import type { TwoReplicas } from "./two-replicas.js";
import { twoReplicas } from "./two-replicas.js";

const up = await postgresAvailable();
const T0 = Date.UTC(2026, 0, 5, 12);

describe("which GitHub requests take the shared pace (as @octokit/plugin-throttling paces them)", () => {
  it("writes and GraphQL do; notifying writes also take the 3 s pace; reads and token requests do not", () => {
    expect(pacesOf("GET", "/repos/{owner}/{repo}/pulls")).toEqual([]);
    expect(pacesOf("POST", "/repos/{owner}/{repo}/check-runs")).toEqual(["write"]);
    expect(pacesOf("POST", "/graphql")).toEqual(["write"]);
    expect(pacesOf("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments")).toEqual([
      "write",
      "notify",
    ]);
    expect(pacesOf("PUT", "https://api.github.com/repos/o/r/pulls/7/merge")).toEqual([
      "write",
      "notify",
    ]);
    expect(pacesOf("POST", "/app/installations/{installation_id}/access_tokens")).toEqual([]);
  });
});

describe.skipIf(!up)("GitHub's write pace per installation holds across two replicas", () => {
  let r: TwoReplicas;
  beforeAll(async () => {
    r = await twoReplicas();
  });
  afterAll(async () => {
    await r?.close();
  });
  beforeEach(() => nock.disableNetConnect());
  afterEach(() => {
    expect(nock.pendingMocks()).toEqual([]);
    nock.cleanAll();
  });

  /** One replica's client for installation `id`: a fixed clock, sleeps recorded (and not slept). */
  const client = (replica: "a" | "b", id: string, slept: number[]) => {
    const Paced = Octokit.plugin(
      sharedWritePace({
        pace: r[replica].pace,
        now: () => T0,
        sleep: async (ms) => {
          slept.push(ms);
        },
      }),
    );
    // Probot gives each installation client `throttle.id`; this bare client has no throttling
    // plugin to type that option, so it is passed as it is.
    return new Paced({ throttle: { id } } as never);
  };

  it("writes from both replicas to one installation go one a second; another installation is not held", async () => {
    nock("https://api.github.com").post("/repos/o/r/check-runs").times(5).reply(201, {});
    nock("https://api.github.com").get("/repos/o/r").times(2).reply(200, {});
    const slept: number[] = [];
    const a = client("a", "41", slept);
    const b = client("b", "41", slept);
    const write = (c: typeof a) => c.request("POST /repos/o/r/check-runs", { name: "x" });
    await write(a);
    await write(b);
    await a.request("GET /repos/o/r");
    await write(a);
    await b.request("GET /repos/o/r");
    await write(b);
    // Per process, each replica's writes would be a second apart, the two together twice as fast.
    expect(slept).toEqual([1000, 2000, 3000]);
    const other: number[] = [];
    await write(client("b", "42", other));
    expect(other).toEqual([]);
  });

  it("comments (notifying writes) from both replicas go one every three seconds", async () => {
    nock("https://api.github.com").post("/repos/o/r/issues/1/comments").times(3).reply(201, {});
    const slept: number[] = [];
    const a = client("a", "43", slept);
    const b = client("b", "43", slept);
    const comment = (c: typeof a) => c.request("POST /repos/o/r/issues/1/comments", { body: "hi" });
    await comment(a);
    await comment(b);
    await comment(a);
    expect(slept).toEqual([3000, 6000]);
  });

  it("the app's Probot clients take it per installation (Probot's throttle id)", async () => {
    nock("https://api.github.com")
      .post("/app/installations/44/access_tokens")
      .reply(201, { token: "ghs_x", expires_at: new Date(Date.now() + 3_600_000).toISOString() })
      .post("/repos/o/r/labels")
      .reply(201, {});
    const slept: number[] = [];
    const probot = new Probot({
      appId: 1,
      privateKey: testPrivateKey(),
      secret: "s",
      logLevel: "fatal",
      Octokit: pacedProbotOctokit({
        pace: r.a.pace,
        now: () => T0 + 200,
        sleep: async (ms) => {
          slept.push(ms);
        },
      }),
    });
    // Replica B wrote to installation 44 200 ms ago: replica A's write waits for its slot.
    await r.b.pace.reserve("github-write:44", { intervalMs: 1000, burstMs: 1000 }, T0);
    const octokit = (await probot.auth(44)) as unknown as Octokit;
    await octokit.request("POST /repos/o/r/labels", { name: "x" });
    expect(slept).toEqual([800]);
  });
});

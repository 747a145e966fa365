import nock from "nock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createLinearGateway } from "../../src/integrations/linear.js";
import { runView } from "../../src/web/status.js";
import { memoryStore } from "../helpers/store.js";
import { answerAll, fakeGitHub, fakeOpenAI, unmatched, workspace } from "./fakes.js";
import { REPO, baseConfig, env, pass } from "./setup.js";

const API = "https://api.linear.app";
const UUID = "0b1e6f3a-1c2d-4e5f-8a9b-0c1d2e3f4a5b";

interface Gql {
  query: string;
  variables: Record<string, unknown>;
}
const op = (name: string) => (b: Gql) => b.query.includes(name);

const node = {
  id: UUID,
  identifier: "ENG-42",
  title: "Remove the legacy retry loop",
  description: "The retry loop in src/queue.ts predates the SDK retries.",
  url: "https://linear.app/acme/issue/ENG-42",
  state: { name: "Backlog" },
  labels: { nodes: [{ name: "tech-debt" }] },
  team: { key: "ENG" },
};

let nomatch: ReturnType<typeof unmatched>;
beforeEach(() => {
  nomatch = unmatched();
});
afterEach(() => nomatch.stop());

describe("Linear gateway (@linear/sdk)", () => {
  it("lists issues by team, states and labels across pages, with the API key", async () => {
    const seen: Gql[] = [];
    nock(API, { reqheaders: { authorization: "lin_api_test" } })
      .post("/graphql", (b: Gql) => op("BgAgentIssues")(b) && !b.variables.after)
      .reply(200, (_u, b) => {
        seen.push(b as Gql);
        return {
          data: { issues: { nodes: [node], pageInfo: { hasNextPage: true, endCursor: "c1" } } },
        };
      })
      .post("/graphql", (b: Gql) => op("BgAgentIssues")(b) && b.variables.after === "c1")
      .reply(200, {
        data: {
          issues: {
            nodes: [{ ...node, id: "x", identifier: "ENG-7", description: null }],
            pageInfo: { hasNextPage: false, endCursor: null },
          },
        },
      });
    const g = createLinearGateway({ apiKey: "lin_api_test" });
    const list = await g.listIssues({
      team: "ENG",
      states: ["Backlog", "Todo"],
      labels: ["tech-debt"],
    });
    expect(list.map((i) => i.identifier)).toEqual(["ENG-42", "ENG-7"]);
    expect(list[1]!.description).toBe("");
    expect(seen[0]!.variables.filter).toEqual({
      team: { key: { eq: "ENG" } },
      state: { name: { in: ["Backlog", "Todo"] } },
      labels: { some: { name: { in: ["tech-debt"] } } },
    });
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("comments by identifier (resolved to the UUID) and moves the issue to a state by name", async () => {
    nock(API)
      .post("/graphql", op("BgAgentIssue("))
      .reply(200, { data: { issue: node } })
      .post(
        "/graphql",
        (b: Gql) =>
          op("commentCreate")(b) && (b.variables.input as { issueId: string }).issueId === UUID,
      )
      .reply(200, { data: { commentCreate: { success: true } } })
      .post("/graphql", op("workflowStates"))
      .reply(200, { data: { workflowStates: { nodes: [{ id: "st-1", name: "Triaged" }] } } })
      .post("/graphql", (b: Gql) => op("issueUpdate")(b) && b.variables.id === UUID)
      .reply(200, { data: { issueUpdate: { success: true } } });
    const g = createLinearGateway({ apiKey: "k" });
    await g.comment("ENG-42", "hello");
    await g.moveToState(UUID, "ENG", "Triaged");
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a missing state says which one", async () => {
    nock(API)
      .post("/graphql")
      .reply(200, { data: { workflowStates: { nodes: [] } } });
    const g = createLinearGateway({ apiKey: "k", apiUrl: `${API}/graphql` });
    await expect(g.moveToState(UUID, "ENG", "Nope")).rejects.toThrow(
      'no workflow state named "Nope"',
    );
  });
});

describe("Linear issues in the analysis", () => {
  it("sweeps Linear, analyses in the batch, comments on Linear and sets the analysed state", async () => {
    const store = await memoryStore();
    const gh = fakeGitHub(REPO, []);
    const comments: string[] = [];
    nock(API)
      .post("/graphql", op("BgAgentIssues"))
      .reply(200, {
        data: { issues: { nodes: [node], pageInfo: { hasNextPage: false, endCursor: null } } },
      })
      .post("/graphql", op("commentCreate"))
      .reply(200, (_u, b) => {
        comments.push(((b as Gql).variables.input as { body: string }).body);
        return { data: { commentCreate: { success: true } } };
      })
      .post("/graphql", op("workflowStates"))
      .reply(200, { data: { workflowStates: { nodes: [{ id: "st-1", name: "Triaged" }] } } })
      .post("/graphql", op("issueUpdate"))
      .reply(200, { data: { issueUpdate: { success: true } } });
    const llm = fakeOpenAI(answerAll, { times: 1 });
    const config = baseConfig({
      tech_debt: {
        linear: {
          team: "ENG",
          states: ["Backlog"],
          labels: ["tech-debt"],
          analysed_state: "Triaged",
        },
      },
    });
    const e = env(store, { workspace: workspace(), config });
    e.linear = createLinearGateway({ apiKey: "lin_api_test" });
    const summary = await pass(e, { sweep: true });

    expect(llm.calls).toHaveLength(1);
    expect(summary.repos[0]!.processed).toMatchObject([
      { source: "linear:ENG-42", outcome: "done" },
    ]);
    expect(comments).toHaveLength(1);
    expect(comments[0]).toContain("**Verdict:** should fix");
    expect(comments[0]).toContain("`/bg approve ENG-42`");
    expect(comments[0]).not.toContain("<!--");
    expect(await store.analyses.get("ENG-42")).toMatchObject({ source: "linear", shouldFix: true });
    expect((await store.proposals.list({ repo: REPO }))[0]).toMatchObject({
      target: "linear:ENG-42",
      status: "proposed",
    });
    expect(gh.checkRuns).toHaveLength(1);
    // The dashboard links the run to the Linear issue.
    const [run] = await store.runs.list({ repo: REPO });
    expect(runView(run!).link).toBe("https://linear.app/acme/issue/ENG-42");
    expect(nomatch.list).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("keeps the Linear issue's URL on a failed run, so the dashboard still links it", async () => {
    const store = await memoryStore();
    fakeGitHub(REPO, []);
    nock(API)
      .post("/graphql", op("BgAgentIssues"))
      .reply(200, {
        data: { issues: { nodes: [node], pageInfo: { hasNextPage: false, endCursor: null } } },
      })
      .post("/graphql", op("commentCreate"))
      .reply(200, { data: { commentCreate: { success: false } } });
    fakeOpenAI(answerAll, { times: 1 });
    const config = baseConfig({
      tech_debt: { linear: { team: "ENG", states: ["Backlog"], labels: ["tech-debt"] } },
    });
    const e = env(store, { workspace: workspace(), config });
    e.linear = createLinearGateway({ apiKey: "lin_api_test" });
    await pass(e, { sweep: true });
    const [run] = await store.runs.list({ repo: REPO });
    expect(run).toMatchObject({
      kind: "analysis",
      ref: "ENG-42",
      status: "failed",
      url: "https://linear.app/acme/issue/ENG-42",
    });
    expect(runView(run!).link).toBe("https://linear.app/acme/issue/ENG-42");
    expect(nock.pendingMocks()).toEqual([]);
  });
});

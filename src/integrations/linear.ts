import { LinearClient, LinearError } from "@linear/sdk";
import { registerSecret } from "../util/secrets.js";
import { z } from "zod";
import type { LinearGateway, LinearIssue } from "./linear-types.js";

export interface LinearGatewayOptions {
  apiKey: string;
  /** BG_LINEAR_API_URL: another GraphQL endpoint (tests, proxies). Default Linear's. */
  apiUrl?: string;
  /** Safety cap on issues listed per sweep. */
  maxIssues?: number;
  /** Retries of a read (or an idempotent write) after a 5xx or a network error (default 2). */
  retries?: number;
  /** Backoff unit in ms: waits 1, 2, … units between tries (default 1000; tests: 1). */
  retryBaseMs?: number;
}

/**
 * Whether a retry can succeed: Linear answered 5xx, or the request never got an answer (a
 * network error: fetch throws before any LinearError). GraphQL errors, 4xx and rate limits are
 * answers: recorded with Linear's message, not retried here (the task backs off).
 */
export function retryableLinearError(e: unknown): boolean {
  if (e instanceof LinearError) return typeof e.status === "number" && e.status >= 500;
  return e instanceof TypeError || (e instanceof Error && "code" in e);
}

const ISSUE_FIELDS = `id identifier title description url state { name } labels { nodes { name } } team { key }`;

const LIST_ISSUES = `query BgAgentIssues($filter: IssueFilter, $first: Int, $after: String) {
  issues(filter: $filter, first: $first, after: $after) {
    nodes { ${ISSUE_FIELDS} }
    pageInfo { hasNextPage endCursor }
  }
}`;

const GET_ISSUE = `query BgAgentIssue($id: String!) { issue(id: $id) { ${ISSUE_FIELDS} } }`;

const CREATE_COMMENT = `mutation BgAgentComment($input: CommentCreateInput!) {
  commentCreate(input: $input) { success }
}`;

const FIND_STATE = `query BgAgentState($filter: WorkflowStateFilter) {
  workflowStates(filter: $filter, first: 5) { nodes { id name } }
}`;

const UPDATE_ISSUE = `mutation BgAgentMove($id: String!, $input: IssueUpdateInput!) {
  issueUpdate(id: $id, input: $input) { success }
}`;

const issueSchema = z.object({
  id: z.string(),
  identifier: z.string(),
  title: z.string(),
  description: z.string().nullish(),
  url: z.string(),
  state: z.object({ name: z.string() }).nullish(),
  labels: z.object({ nodes: z.array(z.object({ name: z.string() })) }).nullish(),
  team: z.object({ key: z.string() }).nullish(),
});

const listSchema = z.object({
  issues: z.object({
    nodes: z.array(issueSchema),
    pageInfo: z.object({ hasNextPage: z.boolean(), endCursor: z.string().nullish() }),
  }),
});

const toIssue = (i: z.infer<typeof issueSchema>): LinearIssue => ({
  id: i.id,
  identifier: i.identifier,
  title: i.title,
  description: i.description ?? "",
  url: i.url,
  state: i.state?.name ?? "",
  labels: (i.labels?.nodes ?? []).map((l) => l.name),
  teamKey: i.team?.key ?? i.identifier.split("-")[0] ?? "",
});

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * bg-agent's Linear access on @linear/sdk's client (its GraphQL transport, auth header, apiUrl
 * and error types), with small hand-written operations so one sweep is one request per page.
 */
export function createLinearGateway(
  o: LinearGatewayOptions,
): LinearGateway & { client: LinearClient } {
  registerSecret(o.apiKey);
  const client = new LinearClient({ apiKey: o.apiKey, ...(o.apiUrl ? { apiUrl: o.apiUrl } : {}) });
  const retries = o.retries ?? 2;
  const baseMs = o.retryBaseMs ?? 1000;
  /** `once`: a write that is not idempotent (a comment): a 5xx may have created it, so never resent. */
  const gql = async <T>(
    query: string,
    variables: Record<string, unknown>,
    schema: z.ZodType<T>,
    once = false,
  ): Promise<T> => {
    let res: { data?: unknown };
    for (let attempt = 0; ; attempt++) {
      try {
        res = await client.client.rawRequest<unknown, Record<string, unknown>>(query, variables);
        break;
      } catch (e) {
        if (once || attempt >= retries || !retryableLinearError(e)) throw e;
        await new Promise((r) => setTimeout(r, baseMs * (attempt + 1)));
      }
    }
    const parsed = schema.safeParse(res.data);
    if (!parsed.success)
      throw new Error(`Linear answered with an unexpected shape: ${parsed.error.message}`);
    return parsed.data;
  };

  const getIssue = async (identifier: string): Promise<LinearIssue | null> => {
    const r = await gql(GET_ISSUE, { id: identifier }, z.object({ issue: issueSchema.nullable() }));
    return r.issue ? toIssue(r.issue) : null;
  };
  /** Linear accepts identifiers in queries; mutations get the UUID to be safe. */
  const uuidOf = async (idOrIdentifier: string): Promise<string> => {
    if (UUID_RE.test(idOrIdentifier)) return idOrIdentifier;
    const issue = await getIssue(idOrIdentifier);
    if (!issue) throw new Error(`Linear issue ${idOrIdentifier} not found`);
    return issue.id;
  };

  return {
    client,
    async listIssues(filter) {
      const f: Record<string, unknown> = { team: { key: { eq: filter.team } } };
      if (filter.states.length) f.state = { name: { in: filter.states } };
      if (filter.labels.length) f.labels = { some: { name: { in: filter.labels } } };
      const out: LinearIssue[] = [];
      let after: string | null | undefined;
      const max = o.maxIssues ?? 1000;
      do {
        const r = await gql(
          LIST_ISSUES,
          { filter: f, first: 50, ...(after ? { after } : {}) },
          listSchema,
        );
        out.push(...r.issues.nodes.map(toIssue));
        after = r.issues.pageInfo.hasNextPage ? r.issues.pageInfo.endCursor : null;
      } while (after && out.length < max);
      return out
        .slice(0, max)
        .sort((a, b) => (a.identifier < b.identifier ? -1 : a.identifier > b.identifier ? 1 : 0));
    },
    getIssue,
    async comment(issueId, body) {
      const r = await gql(
        CREATE_COMMENT,
        { input: { issueId: await uuidOf(issueId), body } },
        z.object({ commentCreate: z.object({ success: z.boolean() }) }),
        true,
      );
      if (!r.commentCreate.success)
        throw new Error(`Linear did not create the comment on ${issueId}`);
    },
    async moveToState(issueId, teamKey, stateName) {
      const states = await gql(
        FIND_STATE,
        { filter: { team: { key: { eq: teamKey } }, name: { eq: stateName } } },
        z.object({
          workflowStates: z.object({
            nodes: z.array(z.object({ id: z.string(), name: z.string() })),
          }),
        }),
      );
      const state = states.workflowStates.nodes[0];
      if (!state)
        throw new Error(`Linear team ${teamKey} has no workflow state named "${stateName}"`);
      const r = await gql(
        UPDATE_ISSUE,
        { id: await uuidOf(issueId), input: { stateId: state.id } },
        z.object({ issueUpdate: z.object({ success: z.boolean() }) }),
      );
      if (!r.issueUpdate.success) throw new Error(`Linear did not move ${issueId} to ${stateName}`);
    },
  };
}

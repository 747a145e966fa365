import nock from "nock";

/*
 * A GitHub repository's state for one PR, and the nock interceptors for exactly the calls one
 * automerge read makes. Response bodies follow GitHub's REST and GraphQL shapes (trimmed to the
 * fields that matter plus the usual neighbours).
 */

export const API = "https://api.github.com";
export const REPO = "octo/demo";
export const HEAD = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";
export const NEW_HEAD = "ffffeeee0000111122223333444455556666aaaa";

export interface CheckRunSpec {
  name: string;
  status?: "queued" | "in_progress" | "completed";
  conclusion?: string | null;
  startedAt?: string;
  id?: number;
}

export interface ReviewSpec {
  login: string;
  state: "APPROVED" | "CHANGES_REQUESTED" | "COMMENTED" | "DISMISSED";
  bot?: boolean;
}

export interface Scenario {
  number?: number;
  title?: string;
  body?: string;
  author?: string;
  authorType?: "User" | "Bot";
  labels?: string[];
  state?: "open" | "closed";
  merged?: boolean;
  draft?: boolean;
  headSha?: string;
  headRef?: string;
  /** null: the fork was deleted. */
  headRepo?: string | null;
  baseRef?: string;
  mergeable?: boolean | null;
  mergeableState?: string;
  headBranchExists?: boolean;
  baseBranchExists?: boolean;
  /**
   * Required contexts from classic protection (`GET /branches/{b}/protection`); a number is the
   * HTTP error status. 404 (default) is an unprotected base branch: `GET /branches/{b}` then says
   * `protected: false` and bg-agent does not ask for the protection.
   */
  protection?: string[] | 403 | 404;
  /**
   * The `protection` summary in `GET /branches/{b}` of a protected base branch: the required
   * contexts (enforcement `non_admins`), `off`, or `absent` (no summary). Default: the contexts
   * of `protection` when it is a list, `absent` when it is 403.
   */
  branchSummary?: string[] | "off" | "absent";
  rules?: { type: string; parameters?: unknown }[];
  checkRuns?: CheckRunSpec[];
  statuses?: { context: string; state: "success" | "pending" | "failure" | "error" }[];
  reviews?: ReviewSpec[];
  /** Permission per login; 404 = not a collaborator at all. */
  permissions?: Record<string, "admin" | "write" | "read" | "none" | 404>;
  unresolvedThreads?: number;
  resolvedThreads?: number;
  mergeQueue?: boolean;
  inMergeQueue?: boolean;
  allow?: { squash?: boolean; merge?: boolean; rebase?: boolean };
  /**
   * A GitHub Enterprise Server without merge queues in its GraphQL schema: `rejects` answers the
   * full PR query with GitHub's "doesn't exist" errors and then expects the query without the
   * merge-queue fields; `fallback` expects only the latter (bg-agent already knows).
   */
  noMergeQueueSchema?: "rejects" | "fallback";
  /** Answer the PR's GraphQL query with these `errors` (and nothing else). */
  graphqlErrors?: unknown[];
  /** Serve the API from this GitHub Enterprise Server (`https://ghe.example.com/api/v3`). */
  ghe?: boolean;
}

export const GHE_HOST = "https://ghe.example.com";
export const GHE_API = `${GHE_HOST}/api/v3`;

/** The `errors` GitHub (Enterprise Server) answers for a query naming fields its schema lacks. */
export const undefinedFieldErrors = (fields: { type: string; field: string; path: string[] }[]) =>
  fields.map((f, i) => ({
    path: f.path,
    extensions: { code: "undefinedField", typeName: f.type, fieldName: f.field },
    locations: [{ line: 3 + i, column: 5 }],
    message: `Field '${f.field}' doesn't exist on type '${f.type}'`,
  }));

const user = (login: string, type = "User", id = 1000) => ({
  login,
  id,
  node_id: `U_${login}`,
  avatar_url: `https://avatars.githubusercontent.com/u/${id}?v=4`,
  html_url: `https://github.com/${login.replace("[bot]", "")}`,
  type,
  site_admin: false,
});

const repoJson = (fullName: string) => ({
  id: 4242,
  node_id: "R_kgDOdemo",
  name: fullName.split("/")[1],
  full_name: fullName,
  private: false,
  owner: user(fullName.split("/")[0]!, "Organization", 77),
  html_url: `https://github.com/${fullName}`,
  default_branch: "main",
});

export function pullJson(s: Scenario): Record<string, unknown> {
  const n = s.number ?? 7;
  const headRepo = s.headRepo === undefined ? REPO : s.headRepo;
  return {
    url: `${API}/repos/${REPO}/pulls/${n}`,
    id: 900000 + n,
    node_id: `PR_kwDOdemo${n}`,
    html_url: `https://github.com/${REPO}/pull/${n}`,
    number: n,
    state: s.state ?? "open",
    locked: false,
    title: s.title ?? "Tidy the config loader",
    user: user(s.author ?? "alice", s.authorType ?? "User"),
    body: s.body ?? "Splits the loader in two.",
    labels: (s.labels ?? []).map((name, i) => ({
      id: 500 + i,
      node_id: `LA_${i}`,
      url: `${API}/repos/${REPO}/labels/${encodeURIComponent(name)}`,
      name,
      color: "ededed",
      default: false,
      description: null,
    })),
    created_at: "2026-01-05T10:00:00Z",
    updated_at: "2026-01-05T11:00:00Z",
    closed_at: null,
    merged_at: null,
    draft: s.draft ?? false,
    merged: s.merged ?? false,
    mergeable: s.mergeable === undefined ? true : s.mergeable,
    rebaseable: true,
    mergeable_state: s.mergeableState ?? "clean",
    merged_by: null,
    head: {
      label: `${(headRepo ?? "ghost/x").split("/")[0]}:${s.headRef ?? "feature"}`,
      ref: s.headRef ?? "feature",
      sha: s.headSha ?? HEAD,
      user: user((headRepo ?? "ghost/x").split("/")[0]!),
      repo: headRepo === null ? null : repoJson(headRepo),
    },
    base: {
      label: `octo:${s.baseRef ?? "main"}`,
      ref: s.baseRef ?? "main",
      sha: "0000000000000000000000000000000000000b05",
      user: user("octo", "Organization", 77),
      repo: repoJson(REPO),
    },
    author_association: "MEMBER",
    auto_merge: null,
  };
}

/**
 * `GET /branches/{b}` as GitHub answers it to anyone who can read the repository: `protection`
 * summarises classic protection's required checks (@octokit/openapi-types "branch-with-protection").
 */
const branchJson = (name: string, summary: string[] | "off" | "absent" | "unprotected") => ({
  name,
  commit: {
    sha: "0000000000000000000000000000000000000b05",
    url: `${API}/repos/${REPO}/commits/x`,
  },
  _links: {
    self: `${API}/repos/${REPO}/branches/${name}`,
    html: `https://github.com/${REPO}/tree/${name}`,
  },
  protected: summary !== "unprotected",
  ...(summary === "absent"
    ? {}
    : {
        protection: {
          enabled: summary !== "unprotected",
          required_status_checks: {
            enforcement_level: Array.isArray(summary) ? "non_admins" : "off",
            contexts: Array.isArray(summary) ? summary : [],
            checks: Array.isArray(summary)
              ? summary.map((context) => ({ context, app_id: 15368 }))
              : [],
          },
        },
      }),
  protection_url: `${API}/repos/${REPO}/branches/${name}/protection`,
});

const notFound = {
  message: "Not Found",
  documentation_url: "https://docs.github.com/rest",
  status: "404",
};

/** Interceptors for `pulls.get` only (a closed PR or a non-candidate stops there). */
export function mockPull(s: Scenario = {}): void {
  nock(API)
    .get(`/repos/${REPO}/pulls/${s.number ?? 7}`)
    .reply(200, pullJson(s));
}

/** Interceptors for one full read of an open candidate PR (automerge's evaluatePull). */
export function mockRead(s: Scenario = {}): void {
  const n = s.number ?? 7;
  const sha = s.headSha ?? HEAD;
  const base = s.baseRef ?? "main";
  const head = s.headRef ?? "feature";
  const headRepo = s.headRepo === undefined ? REPO : s.headRepo;
  const api = nock(s.ghe ? GHE_HOST : API);
  const R = `${s.ghe ? "/api/v3" : ""}/repos/${REPO}`;
  api.get(`${R}/pulls/${n}`).reply(200, pullJson(s));
  const baseExists = s.baseBranchExists ?? true;
  const p = s.protection ?? 404;
  const summary =
    p === 404
      ? "unprotected"
      : (s.branchSummary ?? (p === 403 ? "absent" : Array.isArray(p) ? p : "off"));
  api
    .get(`${R}/branches/${base}`)
    .reply(
      baseExists ? 200 : 404,
      baseExists ? branchJson(base, summary) : { ...notFound, message: "Branch not found" },
    );
  if (headRepo === REPO) {
    const exists = s.headBranchExists ?? true;
    api
      .get(`${R}/branches/${encodeURIComponent(head)}`)
      .reply(
        exists ? 200 : 404,
        exists ? branchJson(head, "unprotected") : { ...notFound, message: "Branch not found" },
      );
  }
  if (baseExists) {
    // An unprotected branch (`protected: false`) has no protection to ask for.
    if (p === 403)
      api.get(`${R}/branches/${base}/protection`).reply(403, {
        message: "Resource not accessible by integration",
        documentation_url:
          "https://docs.github.com/rest/branches/branch-protection#get-branch-protection",
        status: "403",
      });
    else if (p !== 404)
      api.get(`${R}/branches/${base}/protection`).reply(200, {
        url: `${API}/repos/${REPO}/branches/${base}/protection`,
        required_status_checks: {
          url: `${API}/repos/${REPO}/branches/${base}/protection/required_status_checks`,
          strict: false,
          contexts: p,
          contexts_url: `${API}/repos/${REPO}/branches/${base}/protection/required_status_checks/contexts`,
          checks: p.map((context) => ({ context, app_id: 15368 })),
        },
        enforce_admins: { url: "x", enabled: false },
        required_linear_history: { enabled: false },
        allow_force_pushes: { enabled: false },
      });
    api
      .get(`${R}/rules/branches/${base}`)
      .query(true)
      .reply(
        200,
        (s.rules ?? []).map((r, i) => ({
          ...r,
          ruleset_source_type: "Repository",
          ruleset_source: REPO,
          ruleset_id: 100 + i,
        })),
      );
  }
  const runs = (s.checkRuns ?? [{ name: "build", status: "completed", conclusion: "success" }]).map(
    (c, i) => ({
      id: c.id ?? 3000 + i,
      head_sha: sha,
      node_id: `CR_${i}`,
      external_id: "",
      url: `${API}/repos/${REPO}/check-runs/${3000 + i}`,
      html_url: `https://github.com/${REPO}/runs/${3000 + i}`,
      details_url: `https://github.com/${REPO}/actions/runs/1/job/${3000 + i}`,
      status: c.status ?? "completed",
      conclusion: (c.status ?? "completed") === "completed" ? (c.conclusion ?? "success") : null,
      started_at: c.startedAt ?? "2026-01-05T11:00:00Z",
      completed_at: (c.status ?? "completed") === "completed" ? "2026-01-05T11:05:00Z" : null,
      output: {
        title: null,
        summary: null,
        text: null,
        annotations_count: 0,
        annotations_url: "x",
      },
      name: c.name,
      check_suite: { id: 8000 + i },
      app: { id: 15368, slug: "github-actions", name: "GitHub Actions" },
      pull_requests: [],
    }),
  );
  api
    .get(`${R}/commits/${sha}/check-runs`)
    .query((q) => q.filter === "latest")
    .reply(200, { total_count: runs.length, check_runs: runs });
  const statuses = (s.statuses ?? []).map((st, i) => ({
    url: `${API}/repos/${REPO}/statuses/${sha}`,
    avatar_url: null,
    id: 6000 + i,
    node_id: `SC_${i}`,
    state: st.state,
    description: "",
    target_url: null,
    context: st.context,
    created_at: "2026-01-05T11:00:00Z",
    updated_at: "2026-01-05T11:01:00Z",
  }));
  api
    .get(`${R}/commits/${sha}/status`)
    .query(true)
    .reply(200, {
      state: statuses.some((x) => x.state !== "success") ? "pending" : "success",
      statuses,
      sha,
      total_count: statuses.length,
      repository: repoJson(REPO),
      commit_url: `${API}/repos/${REPO}/commits/${sha}`,
      url: `${API}/repos/${REPO}/commits/${sha}/status`,
    });
  const reviews = (s.reviews ?? [{ login: "bob", state: "APPROVED" }]).map((r, i) => ({
    id: 7000 + i,
    node_id: `PRR_${i}`,
    user: user(r.login, r.bot ? "Bot" : "User", 2000 + i),
    body: "",
    state: r.state,
    html_url: `https://github.com/${REPO}/pull/${n}#pullrequestreview-${7000 + i}`,
    pull_request_url: `${API}/repos/${REPO}/pulls/${n}`,
    submitted_at: `2026-01-05T11:${String(10 + i).padStart(2, "0")}:00Z`,
    commit_id: sha,
    author_association: "MEMBER",
  }));
  api.get(`${R}/pulls/${n}/reviews`).query(true).reply(200, reviews);
  // Permission lookups: the latest review of each non-bot reviewer, when it is an approval.
  const latest = new Map<string, ReviewSpec>();
  for (const r of s.reviews ?? [{ login: "bob", state: "APPROVED" }]) {
    if (r.state !== "COMMENTED") latest.set(r.login, r);
  }
  for (const r of latest.values()) {
    if (r.state !== "APPROVED" || r.bot) continue;
    const perm = s.permissions?.[r.login] ?? "write";
    if (perm === 404) api.get(`${R}/collaborators/${r.login}/permission`).reply(404, notFound);
    else
      api.get(`${R}/collaborators/${r.login}/permission`).reply(200, {
        permission: perm,
        role_name: perm,
        user: {
          ...user(r.login),
          permissions: {
            admin: perm === "admin",
            push: perm !== "read" && perm !== "none",
            pull: perm !== "none",
          },
        },
      });
  }
  const threads = [
    ...Array.from({ length: s.unresolvedThreads ?? 0 }, () => ({ isResolved: false })),
    ...Array.from({ length: s.resolvedThreads ?? 1 }, () => ({ isResolved: true })),
  ];
  const graphql = s.ghe ? "/api/graphql" : "/graphql";
  const prQuery =
    (mergeQueueFields: boolean) => (b: { query: string; variables: Record<string, unknown> }) =>
      b.query.includes("reviewThreads") &&
      b.variables.number === n &&
      b.query.includes("mergeQueue") === mergeQueueFields;
  const pullRequest = {
    id: `PR_kwDOdemo${n}`,
    autoMergeRequest: null,
    reviewThreads: { nodes: threads, pageInfo: { hasNextPage: false, endCursor: null } },
  };
  if (s.graphqlErrors) api.post(graphql, prQuery(true)).reply(200, { errors: s.graphqlErrors });
  else if (s.noMergeQueueSchema) {
    if (s.noMergeQueueSchema === "rejects")
      api.post(graphql, prQuery(true)).reply(200, {
        errors: undefinedFieldErrors([
          { type: "Repository", field: "mergeQueue", path: ["query", "repository", "mergeQueue"] },
          {
            type: "PullRequest",
            field: "isInMergeQueue",
            path: ["query", "repository", "pullRequest", "isInMergeQueue"],
          },
        ]),
      });
    api.post(graphql, prQuery(false)).reply(200, { data: { repository: { pullRequest } } });
  } else
    api.post(graphql, prQuery(true)).reply(200, {
      data: {
        repository: {
          mergeQueue: s.mergeQueue ? { id: "MQ_kwDOdemo" } : null,
          pullRequest: { ...pullRequest, isInMergeQueue: s.inMergeQueue ?? false },
        },
      },
    });
  api.get(R).reply(200, {
    ...repoJson(REPO),
    allow_squash_merge: s.allow?.squash ?? true,
    allow_merge_commit: s.allow?.merge ?? true,
    allow_rebase_merge: s.allow?.rebase ?? true,
    allow_auto_merge: true,
  });
}

/** Captures the `bg-agent/automerge` check run bg-agent publishes on `sha`. */
export function mockCheckRun(
  sha = HEAD,
  ghe = false,
): {
  body?: {
    name: string;
    head_sha: string;
    conclusion: string;
    output: { title: string; summary: string };
  };
} {
  const seen: ReturnType<typeof mockCheckRun> = {};
  nock(ghe ? GHE_HOST : API)
    .get(`${ghe ? "/api/v3" : ""}/repos/${REPO}/commits/${sha}/check-runs`)
    .query((q) => q.check_name === "bg-agent/automerge")
    .reply(200, { total_count: 0, check_runs: [] });
  nock(ghe ? GHE_HOST : API)
    .post(
      `${ghe ? "/api/v3" : ""}/repos/${REPO}/check-runs`,
      (b: NonNullable<typeof seen.body>) => {
        seen.body = b;
        return true;
      },
    )
    .reply(201, { id: 99, html_url: `https://github.com/${REPO}/runs/99` });
  return seen;
}

/** Captures the merge call. */
export function mockMerge(
  n = 7,
  reply: [number, unknown] = [
    200,
    {
      sha: "merged0000000000000000000000000000000000",
      merged: true,
      message: "Pull Request successfully merged",
    },
  ],
  ghe = false,
): {
  body?: { sha: string; merge_method: string; commit_title?: string; commit_message?: string };
} {
  const seen: ReturnType<typeof mockMerge> = {};
  nock(ghe ? GHE_HOST : API)
    .put(
      `${ghe ? "/api/v3" : ""}/repos/${REPO}/pulls/${n}/merge`,
      (b: NonNullable<typeof seen.body>) => {
        seen.body = b;
        return true;
      },
    )
    .reply(reply[0], reply[1] as Record<string, unknown>);
  return seen;
}

/** Captures the `automerge-merged` comment. */
export function mockMergedComment(n = 7, ghe = false): { body?: string } {
  const seen: { body?: string } = {};
  nock(ghe ? GHE_HOST : API)
    .get(`${ghe ? "/api/v3" : ""}/repos/${REPO}/issues/${n}/comments`)
    .query(true)
    .reply(200, []);
  nock(ghe ? GHE_HOST : API)
    .post(`${ghe ? "/api/v3" : ""}/repos/${REPO}/issues/${n}/comments`, (b: { body: string }) => {
      seen.body = b.body;
      return true;
    })
    .reply(201, {
      id: 555,
      html_url: `https://github.com/${REPO}/pull/${n}#issuecomment-555`,
      body: "",
    });
  return seen;
}

/** An ISO time `hours` ago. */
export const hoursAgo = (hours: number): string =>
  new Date(Date.now() - hours * 3_600_000).toISOString();

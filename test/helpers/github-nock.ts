import nock from "nock";

export const API = "https://api.github.com";

/**
 * A runner's read of human activity: the repository's events and its newest comments (no
 * `since`: the command scan's listing has one). None unless given. Optional, so a run that stops
 * before reading leaves no pending mock.
 */
export function nockActivity(
  scope: nock.Scope,
  o: { events?: unknown[]; comments?: unknown[]; eventsStatus?: number } = {},
  repo = "octo/demo",
): nock.Scope {
  return scope
    .get(`/repos/${repo}/events`)
    .query(true)
    .optionally()
    .reply(o.eventsStatus ?? 200, o.eventsStatus ? { message: "Not Found" } : (o.events ?? []))
    .get(`/repos/${repo}/issues/comments`)
    .query((q) => q.sort === "updated" && q.since === undefined)
    .optionally()
    .reply(200, o.comments ?? []);
}

/**
 * The calls every run makes first: the repository (token check), the config file (missing:
 * defaults), and (optional) the read of human activity, which sees none.
 */
export function nockRepoAndNoConfig(scope: nock.Scope, repo = "octo/demo"): nock.Scope {
  const [owner] = repo.split("/");
  nockActivity(scope, {}, repo);
  return scope
    .get(`/repos/${repo}`)
    .reply(200, { full_name: repo, default_branch: "main" })
    .get(`/repos/${repo}/contents/.github%2Fbg-agent.yml`)
    .reply(404, { message: "Not Found" })
    .get(`/repos/${owner}/.github/contents/.github%2Fbg-agent.yml`)
    .reply(404, { message: "Not Found" });
}

/** A config file on the default branch (no `ref`), as the contents API serves it raw. */
export function nockConfigFile(
  scope: nock.Scope,
  yaml: string,
  path = ".github/bg-agent.yml",
  repo = "octo/demo",
): nock.Scope {
  return scope
    .get(`/repos/${repo}/contents/${encodeURIComponent(path)}`)
    .query((q) => q.ref === undefined)
    .reply(200, yaml, { "content-type": "application/vnd.github.raw; charset=utf-8" });
}

/** A dashboard issue as the API lists it. */
export const dashboardIssue = (number: number, body: string) => ({
  number,
  node_id: `I_${number}`,
  title: "bg-agent dashboard",
  body,
  html_url: `https://github.com/octo/demo/issues/${number}`,
  labels: [{ name: "bg:dashboard" }],
});

/**
 * The standalone run's scan for `/bg` commands left since the last run: the repository's issue
 * and PR comments (none unless given).
 */
export function nockComments(scope: nock.Scope, comments: unknown[] = [], repo = "octo/demo") {
  return scope
    .get(`/repos/${repo}/issues/comments`)
    .query((q) => q.sort === "updated" && typeof q.since === "string")
    .reply(200, comments);
}

/** The installation token Probot asks for before the app's first GitHub call of a delivery. */
export const nockInstallationToken = (installationId = 1): nock.Scope =>
  nock(API)
    .post(`/app/installations/${installationId}/access_tokens`)
    .reply(201, {
      token: "ghs_test",
      expires_at: new Date(Date.now() + 3600_000).toISOString(),
      permissions: {},
      repository_selection: "all",
    });

/** `.github/bg-agent.yml` of `repo` as the contents API serves it raw (any ref, either path encoding). */
export const nockRawConfig = (yaml: string, repo = "octo/demo", delayMs = 0): nock.Scope => {
  const [owner, name] = repo.split("/");
  const path = new RegExp(`^/repos/${owner}/${name}/contents/\\.github(%2F|/)bg-agent\\.yml`);
  return nock(API)
    .get(path)
    .delay(delayMs)
    .reply(200, yaml, { "content-type": "application/vnd.github.raw; charset=utf-8" });
};

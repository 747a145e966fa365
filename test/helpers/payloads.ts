/** Small, valid webhook payloads for the intake tests (the examples test covers GitHub's full ones). */

export const REPO = "octo/demo";

export const repository = (fullName = REPO, id = 42) => ({
  id,
  name: fullName.split("/")[1],
  full_name: fullName,
  default_branch: "main",
  owner: { login: fullName.split("/")[0], type: "Organization" },
});

export const human = { login: "alice", type: "User" };
export const bot = { login: "renovate[bot]", type: "Bot" };

export function pullRequestEvent(
  o: {
    action?: string;
    number?: number;
    sha?: string;
    state?: "open" | "closed";
    draft?: boolean;
    repo?: string;
    installation?: number | null;
    sender?: { login: string; type: string };
  } = {},
) {
  return {
    action: o.action ?? "opened",
    number: o.number ?? 7,
    pull_request: {
      number: o.number ?? 7,
      state: o.state ?? "open",
      draft: o.draft ?? false,
      title: "Update deps",
      head: { sha: o.sha ?? "a".repeat(40), ref: "feature" },
      base: { ref: "main" },
    },
    repository: repository(o.repo),
    ...(o.installation === null ? {} : { installation: { id: o.installation ?? 1 } }),
    sender: o.sender ?? human,
  };
}

export function issuesEvent(
  o: {
    action?: string;
    number?: number;
    title?: string;
    body?: string | null;
    labels?: string[];
    state?: "open" | "closed";
    repo?: string;
    sender?: { login: string; type: string };
  } = {},
) {
  const number = o.number ?? 3;
  return {
    action: o.action ?? "opened",
    issue: {
      number,
      title: o.title ?? "Remove the legacy cache",
      body: o.body === undefined ? "It is unused since v2." : o.body,
      state: o.state ?? "open",
      html_url: `https://github.com/${o.repo ?? REPO}/issues/${number}`,
      labels: (o.labels ?? ["tech-debt"]).map((name) => ({ name })),
    },
    repository: repository(o.repo),
    installation: { id: 1 },
    sender: o.sender ?? human,
  };
}

export function checkRunEvent(
  o: { prs?: number[]; sha?: string; baseRepoId?: number; name?: "check_run" | "check_suite" } = {},
) {
  const sha = o.sha ?? "b".repeat(40);
  const key = o.name ?? "check_run";
  return {
    action: "completed",
    [key]: {
      id: 1,
      head_sha: sha,
      status: "completed",
      conclusion: "success",
      pull_requests: (o.prs ?? [7]).map((number) => ({
        number,
        head: { sha, ref: "feature", repo: { id: 42 } },
        base: { ref: "main", repo: { id: o.baseRepoId ?? 42 } },
      })),
    },
    repository: repository(),
    installation: { id: 1 },
    sender: bot,
  };
}

export function statusEvent(o: { sha?: string; state?: string } = {}) {
  return {
    sha: o.sha ?? "c".repeat(40),
    state: o.state ?? "success",
    context: "ci/test",
    repository: repository(),
    installation: { id: 1 },
    sender: bot,
  };
}

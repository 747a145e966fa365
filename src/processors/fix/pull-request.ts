import { redactSecrets } from "../../util/secrets.js";
import type { GitHubClient, RepoRef } from "../../integrations/github.js";
import { httpStatus } from "../../integrations/github.js";

export interface PullRequestSpec {
  branch: string;
  base: string;
  title: string;
  body: string;
  labels: string[];
  /** Labels to take off an existing PR (e.g. bg:unverified once tests pass). */
  removeLabels: string[];
}

export interface PullRequestResult {
  number: number;
  url: string;
  action: "created" | "updated";
}

/**
 * Opens the pull request for bg-agent's branch, or updates the open one for that branch (a
 * retried fix force-pushes the same branch and keeps its PR), then sets the labels.
 */
export async function upsertPullRequest(
  octokit: GitHubClient,
  ref: RepoRef,
  raw: PullRequestSpec,
): Promise<PullRequestResult> {
  const spec = { ...raw, title: redactSecrets(raw.title), body: redactSecrets(raw.body) };
  const { data: open } = await octokit.rest.pulls.list({
    ...ref,
    head: `${ref.owner}:${spec.branch}`,
    state: "open",
    per_page: 10,
  });
  const existing = open.find((p) => p.head.ref === spec.branch);
  let result: PullRequestResult;
  if (existing) {
    const { data } = await octokit.rest.pulls.update({
      ...ref,
      pull_number: existing.number,
      title: spec.title,
      body: spec.body,
    });
    result = { number: data.number, url: data.html_url, action: "updated" };
    const have = new Set(existing.labels.map((l) => l.name));
    for (const name of spec.removeLabels.filter((l) => have.has(l))) {
      try {
        await octokit.rest.issues.removeLabel({ ...ref, issue_number: data.number, name });
      } catch (e) {
        if (httpStatus(e) !== 404) throw e;
      }
    }
  } else {
    const { data } = await octokit.rest.pulls.create({
      ...ref,
      head: spec.branch,
      base: spec.base,
      title: spec.title,
      body: spec.body,
    });
    result = { number: data.number, url: data.html_url, action: "created" };
  }
  if (spec.labels.length)
    await octokit.rest.issues.addLabels({
      ...ref,
      issue_number: result.number,
      labels: spec.labels,
    });
  return result;
}

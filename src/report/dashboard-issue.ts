import type { GitHubClient, RepoRef } from "../integrations/github.js";
import { hasMarker, marker } from "./markers.js";

export const DASHBOARD_LABEL = "bg:dashboard";

/**
 * bg-agent's dashboard issue in a repository (found by label and marker), created when missing
 * unless `create` is false. Returns its number, or null.
 */
export async function findDashboardIssue(
  octokit: GitHubClient,
  ref: RepoRef,
  opts: { title: string; create: boolean },
): Promise<{ number: number; body: string } | null> {
  const issues = await octokit.paginate(octokit.rest.issues.listForRepo, {
    ...ref,
    labels: DASHBOARD_LABEL,
    state: "open",
    per_page: 100,
  });
  const found = issues.find((i) => !i.pull_request && hasMarker(i.body, "dashboard", "main"));
  if (found) return { number: found.number, body: found.body ?? "" };
  if (!opts.create) return null;
  const body = `${marker("dashboard", "main")}\nbg-agent keeps its run history and spend here. Do not edit the hidden blocks.\n`;
  const { data } = await octokit.rest.issues.create({
    ...ref,
    title: opts.title,
    body,
    labels: [DASHBOARD_LABEL],
  });
  return { number: data.number, body };
}

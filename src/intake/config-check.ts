import type { ConfigResult } from "../config/load.js";
import type { GitHubClient } from "../integrations/github.js";
import { httpStatus, parseRepo } from "../integrations/github.js";
import type { Logger } from "../log.js";
import { publishCheckRun } from "../report/check-runs.js";
import type { Store } from "../store/index.js";

export const CONFIG_CHECK_NAME = "bg-agent/config";

export interface ConfigCheckDeps {
  octokit: GitHubClient;
  store: Store;
  log: Logger;
}

export interface ConfigCheckWhere {
  repo: string;
  defaultBranch?: string | null;
  /** The default branch's head, when the event carries it (a push). */
  headSha?: string | null;
}

const escapeMd = (s: string): string => s.replace(/[`<>]/g, (c) => `\\${c}`);

/** The check run's text for a result: each problem with its path. */
export function describeConfigResult(result: ConfigResult): {
  conclusion: "failure" | "neutral" | "success";
  title: string;
  summary: string;
} {
  const list = result.problems
    .map((p) => `- \`${escapeMd(p.path)}\`: ${escapeMd(p.message)}`)
    .join("\n");
  if (!result.ok) {
    return {
      conclusion: "failure",
      title: `.github/bg-agent.yml is invalid (${result.problems.length} problem${result.problems.length === 1 ? "" : "s"})`,
      summary:
        `bg-agent found problems in \`.github/bg-agent.yml\` and does **no new work** in this repository until they are fixed:\n\n${list}\n\n` +
        "See docs/configuration.md for every key and its default.",
    };
  }
  if (result.problems.length) {
    return {
      conclusion: "neutral",
      title: `${result.problems.length} problem${result.problems.length === 1 ? "" : "s"} in .github/bg-agent.yml tasks`,
      summary: `The rest of the configuration is in force; the tasks below are ignored until fixed:\n\n${list}`,
    };
  }
  return {
    conclusion: "success",
    title: ".github/bg-agent.yml is valid",
    summary: "The configuration is valid and in force.",
  };
}

/**
 * Reports a repository's config problems as the check run `bg-agent/config` on the default
 * branch head, once per config hash. A valid config is reported (success) only after a problem
 * was, so the fix is visible. Never throws: an API failure is logged; a 5xx or network failure
 * is retried on a later event, a 4xx (e.g. no permission) is not.
 */
export async function reportConfig(
  deps: ConfigCheckDeps,
  where: ConfigCheckWhere,
  result: ConfigResult,
): Promise<void> {
  const row = await deps.store.repos.get(where.repo);
  if (row?.configReportedHash === result.hash) return;
  const clean = result.ok && result.problems.length === 0;
  if (clean && !row?.configReportedHash) return;
  const log = deps.log.child({ repo: where.repo, configHash: result.hash });
  // Called before the loader caches the config (its writes follow its last await): the row may
  // not exist yet on a cold cache, and the reported hash must stick.
  const mark = async (): Promise<void> => {
    if (!(await deps.store.repos.get(where.repo)))
      await deps.store.repos.upsert({ fullName: where.repo });
    await deps.store.repos.markConfigReported(where.repo, result.hash);
  };
  const ref = parseRepo(where.repo);
  try {
    let sha = where.headSha ?? null;
    if (!sha) {
      let branch = where.defaultBranch ?? row?.defaultBranch ?? null;
      if (!branch) branch = (await deps.octokit.rest.repos.get({ ...ref })).data.default_branch;
      sha = (await deps.octokit.rest.repos.getBranch({ ...ref, branch })).data.commit.sha;
    }
    const d = describeConfigResult(result);
    await publishCheckRun(deps.octokit, ref, { name: CONFIG_CHECK_NAME, headSha: sha, ...d });
    await mark();
    log.info(
      { conclusion: d.conclusion, problems: result.problems.length },
      "reported the config check run",
    );
  } catch (e) {
    const status = httpStatus(e);
    log.warn({ err: e, status }, "could not publish the bg-agent/config check run");
    if (status !== undefined && status >= 400 && status < 500 && status !== 429) {
      await mark();
    }
  }
}

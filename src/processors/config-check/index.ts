import { z } from "zod";
import { CONFIG_PATH } from "../../config/load.js";
import { MAX_CONFIG_BYTES, tooLargeMessage } from "../../config/size.js";
import { validateConfigText } from "../../config/validate-file.js";
import type { FileValidation, LocatedProblem } from "../../config/validate-file.js";
import { httpStatus } from "../../integrations/github.js";
import type { GitHubClient, RepoRef } from "../../integrations/github.js";
import { CONFIG_CHECK_NAME } from "../../intake/config-check.js";
import { publishCheckRun } from "../../report/check-runs.js";
import type { Task } from "../../core/domain.js";
import type { Processor, TaskOutcome } from "../../core/worker-contract.js";

/** A branch push that touched the config (`branch`), or a PR whose files are listed first (`pr`). */
export const payloadSchema = z.object({
  headSha: z.string().min(1),
  branch: z.string().optional(),
  pr: z.number().int().positive().optional(),
});

/** What the PR does to the config file, read at its head: changed (with the text), removed, untouched. */
type Proposed =
  { kind: "untouched" } | { kind: "removed" } | { kind: "changed"; validation: FileValidation };

/** True when the PR's files include the config (first 3,000 files: GitHub's own limit). */
async function prChangesConfig(octokit: GitHubClient, ref: RepoRef, pr: number): Promise<boolean> {
  const files = await octokit.paginate(octokit.rest.pulls.listFiles, {
    ...ref,
    pull_number: pr,
    per_page: 100,
  });
  return files.some((f) => f.filename === CONFIG_PATH || f.previous_filename === CONFIG_PATH);
}

/** Reads the proposed file at the PR's head, for validation only (never used as the config). */
async function readProposed(
  octokit: GitHubClient,
  ref: RepoRef,
  headSha: string,
): Promise<Proposed> {
  let data: unknown;
  try {
    data = (await octokit.rest.repos.getContent({ ...ref, path: CONFIG_PATH, ref: headSha })).data;
  } catch (e) {
    if (httpStatus(e) === 404) return { kind: "removed" };
    throw e;
  }
  const file = z
    .object({
      type: z.string(),
      size: z.number(),
      content: z.string().optional(),
      encoding: z.string().optional(),
    })
    .safeParse(data);
  const problem = (message: string): Proposed => ({
    kind: "changed",
    validation: { ok: false, notes: [], problems: [{ path: "(file)", message }] },
  });
  if (!file.success || file.data.type !== "file") return problem(`${CONFIG_PATH} is not a file`);
  // Refused by size before its content is decoded or parsed (GitHub omits content over 1 MB).
  if (file.data.size > MAX_CONFIG_BYTES)
    return problem(tooLargeMessage(CONFIG_PATH, file.data.size));
  const text =
    file.data.encoding === "base64"
      ? Buffer.from(file.data.content ?? "", "base64").toString("utf8")
      : (file.data.content ?? "");
  return { kind: "changed", validation: validateConfigText(text, CONFIG_PATH) };
}

const escapeMd = (s: string): string => s.replace(/[`<>]/g, (c) => `\\${c}`);
const where = (p: LocatedProblem): string => (p.line ? ` (line ${p.line})` : "");

/** The check run's text for the proposed file. */
export function describeProposed(v: FileValidation): {
  conclusion: "failure" | "success";
  title: string;
  summary: string;
} {
  const inForce =
    "Only validated: the configuration in force stays the default branch's until this pull request is merged.";
  const notes = v.notes.map((n) => `- note: ${escapeMd(n)}`).join("\n");
  if (!v.ok) {
    const n = v.problems.length;
    const list = v.problems
      .map((p) => `- \`${escapeMd(p.path)}\`${where(p)}: ${escapeMd(p.message)}`)
      .join("\n");
    return {
      conclusion: "failure",
      title: `The proposed ${CONFIG_PATH} is invalid (${n} problem${n === 1 ? "" : "s"})`,
      summary:
        `Merged as it is, bg-agent would report these problems and stop new work in this repository:\n\n${list}` +
        `${notes ? `\n${notes}` : ""}\n\n${inForce} Check locally with \`npx bg-agent validate\`; docs/configuration.md lists every key.`,
    };
  }
  return {
    conclusion: "success",
    title: `The proposed ${CONFIG_PATH} is valid`,
    summary: `${notes ? `${notes}\n\n` : ""}${inForce}`,
  };
}

/**
 * `config_check` tasks (one per branch, source `branch:<name>`, queued by intake when a push to
 * a branch other than the default touches `.github/bg-agent.yml`, src/intake/push.ts): the
 * file at the pushed head commit is validated (offline, as `bg-agent validate` does: `_extends` is not
 * followed) and the result is the check run `bg-agent/config` on that head commit. The file is
 * never used as configuration. The check run on the head commit is what the branch's pull
 * request shows. A task with `pr` first lists the PR's files and skips a PR that does not
 * change the config.
 */
export function createConfigCheckProcessor(): Processor {
  return {
    type: "config_check",
    usesLlm: false,
    batchSize: () => 10,
    async process(ctx, tasks: Task[]) {
      const out = new Map<number, TaskOutcome>();
      for (const t of tasks) {
        const p = payloadSchema.safeParse(t.payload);
        if (!p.success) {
          out.set(t.id, { status: "failed", error: "bad config_check payload", permanent: true });
          continue;
        }
        const { pr, headSha, branch } = p.data;
        const log = ctx.log.child({ pr, branch, headSha });
        try {
          if (pr !== undefined && !(await prChangesConfig(ctx.octokit, ctx.repo, pr))) {
            out.set(t.id, {
              status: "skipped",
              reason: `PR #${pr} does not change ${CONFIG_PATH}`,
            });
            continue;
          }
          const proposed = await readProposed(ctx.octokit, ctx.repo, headSha);
          const d =
            proposed.kind === "changed"
              ? describeProposed(proposed.validation)
              : {
                  conclusion: "success" as const,
                  title: `This pull request removes ${CONFIG_PATH}`,
                  summary:
                    "Once merged, every default applies. Until then the default branch's configuration stays in force.",
                };
          if (ctx.env.dryRun) {
            out.set(t.id, { status: "done", result: { dryRun: true, ...d } });
            continue;
          }
          await publishCheckRun(ctx.octokit, ctx.repo, { name: CONFIG_CHECK_NAME, headSha, ...d });
          log.info({ conclusion: d.conclusion }, "reported the proposed config's check run");
          out.set(t.id, { status: "done", result: { conclusion: d.conclusion } });
        } catch (e) {
          const status = httpStatus(e);
          log.warn({ err: e, status }, "could not check the proposed config");
          const permanent = status !== undefined && status >= 400 && status < 500 && status !== 429;
          out.set(t.id, { status: "failed", error: (e as Error).message, permanent });
        }
      }
      return out;
    },
  };
}

import { stripHidden } from "../../context/hidden-text.js";
import type {
  ChatCompletionFunctionTool,
  ChatCompletionMessageToolCall,
} from "openai/resources/chat/completions";
import { z } from "zod";
import type { TaskConfig } from "../../config/schema.js";
import type { GitHubClient, RepoRef } from "../../integrations/github.js";
import { httpStatus } from "../../integrations/github.js";
import { errText } from "../../util/errors.js";

/** Issue and PR text reaches the model without what readers cannot see (comments, invisible characters). */
const removeHidden = (s: string): string => stripHidden(s).text;

export type TaskTool = TaskConfig["tools"][number];

/** Longest tool output handed back to the model, in characters. */
export const TOOL_OUTPUT_MAX = 6_000;

export interface ToolDeps {
  octokit: GitHubClient;
  /** Tools only ever read this repository. */
  repo: RepoRef;
  signal?: AbortSignal;
}

/** Octokit's request options for a tool call: its abort signal, when there is one. */
const withSignal = (signal: AbortSignal | undefined): { signal?: AbortSignal } =>
  signal ? { signal } : {};

/** Caps text at `max` characters, saying how much was cut. */
export function capOutput(text: string, max = TOOL_OUTPUT_MAX): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}\n…(truncated: ${text.length - max} more characters)`;
}

// A repository-relative path: no leading slash, no `..` segment (the path goes into the API URL).
const repoPath = z
  .string()
  .max(500)
  .refine((p) => !p.startsWith("/") && !p.split("/").includes("..") && !/[\0?#\\]/.test(p), {
    message: "must be a path inside the repository (no leading /, no ..)",
  });
const gitRef = z
  .string()
  .regex(/^[A-Za-z0-9._/-]{1,200}$/, "must be a branch, tag or commit SHA")
  .refine((r) => !r.split("/").includes(".."), { message: "must not contain .." });
const limit = z.number().int().min(1).max(100).default(30);

const argSchemas = {
  read_file: z.object({
    path: repoPath.refine((p) => p.length > 0, { message: "path is required" }),
    ref: gitRef.optional(),
    start_line: z.number().int().min(1).optional(),
    end_line: z.number().int().min(1).optional(),
  }),
  list_files: z.object({ path: repoPath.default(""), ref: gitRef.optional() }),
  search_code: z.object({ query: z.string().min(1).max(200), limit }),
  list_issues: z.object({
    state: z.enum(["open", "closed", "all"]).default("open"),
    labels: z.array(z.string().min(1).max(100)).max(10).optional(),
    limit,
  }),
  list_pull_requests: z.object({ state: z.enum(["open", "closed", "all"]).default("open"), limit }),
  read_check_runs: z.object({ ref: gitRef.default("HEAD"), limit }),
  read_workflow_runs: z.object({
    workflow: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,100}$/, "a workflow file name such as ci.yml")
      .optional(),
    branch: gitRef.optional(),
    status: z
      .enum(["completed", "in_progress", "queued", "success", "failure", "cancelled"])
      .optional(),
    limit,
  }),
} satisfies Record<TaskTool, z.ZodType>;

const limitProp = {
  type: "integer",
  minimum: 1,
  maximum: 100,
  description: "At most this many (default 30)",
};
const stateProp = { type: "string", enum: ["open", "closed", "all"], description: "Default open" };

/** The tools as the model sees them (JSON Schema parameters, written out for every provider). */
const definitions: Record<TaskTool, ChatCompletionFunctionTool["function"]> = {
  read_file: {
    name: "read_file",
    description:
      "Read a text file of this repository (default branch unless ref is given), optionally a line range.",
    parameters: {
      type: "object",
      properties: {
        path: { type: "string", description: "Path inside the repository, e.g. src/index.ts" },
        ref: { type: "string", description: "Branch, tag or commit SHA" },
        start_line: { type: "integer", minimum: 1 },
        end_line: { type: "integer", minimum: 1 },
      },
      required: ["path"],
      additionalProperties: false,
    },
  },
  list_files: {
    name: "list_files",
    description: "List the files and folders in a folder of this repository (the root by default).",
    parameters: {
      type: "object",
      properties: {
        path: { type: "string", description: "Folder path; empty for the root" },
        ref: { type: "string", description: "Branch, tag or commit SHA" },
      },
      additionalProperties: false,
    },
  },
  search_code: {
    name: "search_code",
    description:
      "Search this repository's code (GitHub code search syntax). Returns matching paths.",
    parameters: {
      type: "object",
      properties: { query: { type: "string" }, limit: limitProp },
      required: ["query"],
      additionalProperties: false,
    },
  },
  list_issues: {
    name: "list_issues",
    description: "List issues of this repository (not pull requests), most recently updated first.",
    parameters: {
      type: "object",
      properties: {
        state: stateProp,
        labels: {
          type: "array",
          items: { type: "string" },
          description: "Only issues with all these labels",
        },
        limit: limitProp,
      },
      additionalProperties: false,
    },
  },
  list_pull_requests: {
    name: "list_pull_requests",
    description: "List pull requests of this repository, most recently updated first.",
    parameters: {
      type: "object",
      properties: { state: stateProp, limit: limitProp },
      additionalProperties: false,
    },
  },
  read_check_runs: {
    name: "read_check_runs",
    description:
      "Read the check runs (CI results) of a commit, branch or tag (default: the default branch head).",
    parameters: {
      type: "object",
      properties: { ref: { type: "string" }, limit: limitProp },
      additionalProperties: false,
    },
  },
  read_workflow_runs: {
    name: "read_workflow_runs",
    description:
      "Read recent GitHub Actions workflow runs, optionally of one workflow file, branch or status.",
    parameters: {
      type: "object",
      properties: {
        workflow: { type: "string", description: "Workflow file name, e.g. ci.yml" },
        branch: { type: "string" },
        status: {
          type: "string",
          enum: ["completed", "in_progress", "queued", "success", "failure", "cancelled"],
        },
        limit: limitProp,
      },
      additionalProperties: false,
    },
  },
};

/** The tool list for a task: only its allow-list, in a stable order. */
export function toolsFor(allowed: readonly TaskTool[]): ChatCompletionFunctionTool[] {
  const set = new Set(allowed);
  return (Object.keys(definitions) as TaskTool[])
    .filter((n) => set.has(n))
    .map((n) => ({ type: "function", function: definitions[n] }));
}

const day = (iso: string | null | undefined): string => (iso ? iso.slice(0, 10) : "?");

type Args<T extends TaskTool> = z.infer<(typeof argSchemas)[T]>;

const executors: { [T in TaskTool]: (d: ToolDeps, a: Args<T>) => Promise<string> } = {
  async read_file({ octokit, repo, signal }, a) {
    const { data } = await octokit.rest.repos.getContent({
      ...repo,
      path: a.path,
      ...(a.ref ? { ref: a.ref } : {}),
      request: withSignal(signal),
    });
    if (Array.isArray(data)) return `error: ${a.path} is a folder; use list_files`;
    if (data.type !== "file") return `error: ${a.path} is a ${data.type}, not a file`;
    if (!("content" in data) || data.encoding !== "base64") {
      return `error: ${a.path} is too large to read (${data.size} bytes)`;
    }
    const text = Buffer.from(data.content, "base64").toString("utf8");
    if (text.includes("\u0000")) return `error: ${a.path} is a binary file (${data.size} bytes)`;
    let body = text;
    let range = "";
    if (a.start_line !== undefined || a.end_line !== undefined) {
      const lines = text.split("\n");
      const from = a.start_line ?? 1;
      const to = Math.min(a.end_line ?? lines.length, lines.length);
      body = lines.slice(from - 1, to).join("\n");
      range = ` lines ${from}-${to} of ${lines.length}`;
    }
    return `${a.path} (${data.size} bytes${range})\n${body}`;
  },

  async list_files({ octokit, repo, signal }, a) {
    const { data } = await octokit.rest.repos.getContent({
      ...repo,
      path: a.path,
      ...(a.ref ? { ref: a.ref } : {}),
      request: withSignal(signal),
    });
    if (!Array.isArray(data)) return `error: ${a.path} is a ${data.type}; use read_file`;
    const lines = data.map((e) =>
      e.type === "dir"
        ? `${e.path}/`
        : `${e.path}${e.type === "file" ? ` (${e.size} B)` : ` [${e.type}]`}`,
    );
    return lines.length ? lines.join("\n") : "(empty folder)";
  },

  async search_code({ octokit, repo, signal }, a) {
    // The model's query never leaves this repository: drop any scope qualifier it wrote.
    const query = a.query.replace(/\b(repo|org|user):\S+/gi, "").trim();
    if (!query) return "error: the query is empty once scope qualifiers are removed";
    const { data } = await octokit.rest.search.code({
      q: `${query} repo:${repo.owner}/${repo.repo}`,
      per_page: a.limit,
      request: withSignal(signal),
    });
    if (!data.items.length) return "no matches";
    return [`${data.total_count} matches`, ...data.items.map((i) => i.path)].join("\n");
  },

  async list_issues({ octokit, repo, signal }, a) {
    const { data } = await octokit.rest.issues.listForRepo({
      ...repo,
      state: a.state,
      ...(a.labels?.length ? { labels: a.labels.join(",") } : {}),
      sort: "updated",
      direction: "desc",
      per_page: a.limit,
      request: withSignal(signal),
    });
    const issues = data.filter((i) => !i.pull_request);
    if (!issues.length) return "no issues";
    return issues
      .map((i) => {
        const labels = i.labels
          .map((l) => (typeof l === "string" ? l : (l.name ?? "")))
          .filter(Boolean)
          .join(", ");
        return `#${i.number} [${i.state}] ${removeHidden(i.title)}${labels ? ` (labels: ${labels})` : ""} updated ${day(i.updated_at)}`;
      })
      .join("\n");
  },

  async list_pull_requests({ octokit, repo, signal }, a) {
    const { data } = await octokit.rest.pulls.list({
      ...repo,
      state: a.state,
      sort: "updated",
      direction: "desc",
      per_page: a.limit,
      request: withSignal(signal),
    });
    if (!data.length) return "no pull requests";
    return data
      .map(
        (p) =>
          `#${p.number} [${p.state}${p.draft ? ", draft" : ""}${p.merged_at ? ", merged" : ""}] ${removeHidden(p.title)} by ${p.user?.login ?? "?"} (${p.head.ref} -> ${p.base.ref}) updated ${day(p.updated_at)}`,
      )
      .join("\n");
  },

  async read_check_runs({ octokit, repo, signal }, a) {
    const { data } = await octokit.rest.checks.listForRef({
      ...repo,
      ref: a.ref,
      per_page: a.limit,
      request: withSignal(signal),
    });
    if (!data.check_runs.length) return `no check runs on ${a.ref}`;
    return [
      `${data.total_count} check runs on ${a.ref}`,
      ...data.check_runs.map(
        (c) =>
          `${c.name}: ${c.status}${c.conclusion ? `/${c.conclusion}` : ""} (${c.head_sha.slice(0, 7)})`,
      ),
    ].join("\n");
  },

  async read_workflow_runs({ octokit, repo, signal }, a) {
    const filters = {
      ...(a.branch ? { branch: a.branch } : {}),
      ...(a.status ? { status: a.status } : {}),
      per_page: a.limit,
      request: withSignal(signal),
    };
    const { data } = a.workflow
      ? await octokit.rest.actions.listWorkflowRuns({
          ...repo,
          workflow_id: a.workflow,
          ...filters,
        })
      : await octokit.rest.actions.listWorkflowRunsForRepo({ ...repo, ...filters });
    if (!data.workflow_runs.length) return "no workflow runs";
    return data.workflow_runs
      .map(
        (r) =>
          `${r.name ?? "?"} #${r.run_number} [${r.status ?? "?"}${r.conclusion ? `/${r.conclusion}` : ""}] ${r.head_branch ?? "?"}@${r.head_sha.slice(0, 7)} ${day(r.created_at)} ${r.html_url}`,
      )
      .join("\n");
  },
};

export interface ToolCallOutcome {
  name: string;
  ok: boolean;
  /** What goes back to the model as the tool result (capped). */
  output: string;
}

/**
 * Runs one tool call from the model. A tool not on the task's allow-list (or not a tool at all),
 * arguments that do not validate, or an API error all become an error result for the model:
 * nothing outside the allow-list ever executes. Only a timeout (the abort signal) throws.
 */
export async function executeToolCall(
  call: ChatCompletionMessageToolCall,
  allowed: readonly TaskTool[],
  deps: ToolDeps,
): Promise<ToolCallOutcome> {
  if (call.type !== "function") {
    return {
      name: call.custom.name,
      ok: false,
      output: "error: only function tools are available",
    };
  }
  const name = call.function.name;
  if (!(allowed as readonly string[]).includes(name) || !(name in executors)) {
    const list = allowed.length ? allowed.join(", ") : "none";
    return {
      name,
      ok: false,
      output: `error: the tool "${name}" is not available to this task (allowed: ${list})`,
    };
  }
  const tool = name as TaskTool;
  let raw: unknown;
  try {
    raw = call.function.arguments.trim() ? JSON.parse(call.function.arguments) : {};
  } catch {
    return { name, ok: false, output: "error: the arguments are not valid JSON" };
  }
  const parsed = argSchemas[tool].safeParse(raw);
  if (!parsed.success) {
    const why = parsed.error.issues.map((i) => `${i.path.join(".") || "arguments"}: ${i.message}`);
    return { name, ok: false, output: `error: ${why.join("; ")}` };
  }
  try {
    const run = executors[tool] as (d: ToolDeps, a: unknown) => Promise<string>;
    return { name, ok: true, output: capOutput(await run(deps, parsed.data)) };
  } catch (e) {
    if (deps.signal?.aborted) throw e;
    const status = httpStatus(e);
    const why = status === 404 ? "not found" : errText(e).split("\n")[0]!.slice(0, 300);
    return { name, ok: false, output: `error: ${why}${status ? ` (HTTP ${status})` : ""}` };
  }
}

import { Cron } from "croner";
import { z } from "zod";
import type { TaskType } from "../core/task-kinds.js";
import { ORDER } from "../core/task-kinds.js";
import { parseDuration } from "../util/duration.js";
import { onSchema } from "./events.js";
import { reportToSchema } from "./report-to.js";

/** The read-only tools a prompt task may be allowed. */
export const TASK_TOOLS = [
  "read_file",
  "list_files",
  "search_code",
  "list_issues",
  "list_pull_requests",
  "read_check_runs",
  "read_workflow_runs",
] as const;

export const PROMPT_MAX_CHARS = 8_000;

const duration = (what: string) =>
  z.string().refine((s) => parseDuration(s) !== undefined, {
    message: `${what} must be a duration such as 30m, 2h or 1d`,
  });

const labelList = z.array(z.string().min(1).max(100));

export const techDebtSchema = z.strictObject({
  enabled: z.boolean().default(true),
  github: z.strictObject({ labels: labelList.default(["tech-debt"]) }).prefault({}),
  linear: z
    .strictObject({
      team: z.string().min(1).describe("Linear team key, e.g. ENG"),
      states: z.array(z.string()).default(["Backlog"]),
      labels: labelList.default(["tech-debt"]),
      analysed_state: z.string().optional().describe("State to move an analysed issue to"),
    })
    .optional(),
  batch_size: z
    .number()
    .int()
    .min(1)
    .max(50)
    .default(20)
    .describe("Issues per LLM call; the output allowance caps it at 40"),
  openai_batch_size: z
    .number()
    .int()
    .min(1)
    .max(50)
    .default(40)
    .describe(
      "Issues per OpenAI Batch API request (tech_debt.openai_batch); the output allowance caps it at 40",
    ),
  max_tokens_per_call: z.number().int().min(2_000).max(1_000_000).default(80_000),
  max_issue_chars: z.number().int().min(500).max(200_000).default(20_000),
  context: z
    .strictObject({
      include: z.array(z.string()).default([]).describe("Extra globs added to the project context"),
      max_tokens: z.number().int().min(500).max(500_000).default(20_000),
      map_tokens: z
        .number()
        .int()
        .min(0)
        .max(200_000)
        .default(8_000)
        .describe("Token budget of the repository map in the project context (0: no map)"),
      issue_file_tokens: z
        .number()
        .int()
        .min(0)
        .max(100_000)
        .default(4_000)
        .describe("Token budget per issue for the files it names, read after the shared prefix"),
    })
    .prefault({}),
  labels: z
    .strictObject({
      should_fix: z.string().default("bg:should-fix"),
      wont_fix: z.string().default("bg:wont-fix"),
    })
    .prefault({}),
  openai_batch: z.boolean().default(false),
});

export const automergeSchema = z.strictObject({
  enabled: z.boolean().default(true),
  method: z.enum(["merge", "squash", "rebase"]).default("squash"),
  required_approvals: z.number().int().min(0).max(20).default(1),
  blocking_labels: labelList.default(["do-not-merge", "wip"]),
  required_label: z.string().min(1).nullable().default(null),
  allow_no_checks: z.boolean().default(false),
  update_branch: z.boolean().default(false),
  ignore_checks: z.array(z.string()).default([]),
  authors: z
    .array(z.string())
    .default([])
    .describe("Only PRs by these logins are merged; `bots` matches any bot. Empty: anyone."),
  merge_queue: z
    .boolean()
    .default(false)
    .describe("Enable GitHub's native auto-merge / merge queue instead of merging"),
  commit_title: z.string().default("{title} (#{number})"),
  commit_body: z.string().default("{body}"),
  check_timeout_hours: z.number().min(0.1).max(168).default(6),
  pause_when_active: z.boolean().default(false),
  linear_done_state: z.string().default("Done"),
});

/** The most turns a task may give the model (`max_turns`). */
export const MAX_TURNS_LIMIT = 50;
/** The most prompt tasks a repository may declare (`tasks_max` raises the default of 20 up to this). */
export const TASKS_MAX_LIMIT = 100;

export const taskSchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, "name: letters, digits, - _ . (at most 64)"),
    prompt: z
      .string()
      .min(1)
      .max(PROMPT_MAX_CHARS, `prompt is over ${PROMPT_MAX_CHARS} characters`),
    every: duration("every").optional(),
    cron: z.string().optional(),
    timezone: z.string().optional(),
    idle: z
      .strictObject({
        minutes: z.number().int().min(1).max(10_080),
        cooldown_minutes: z.number().int().min(0).max(100_000).default(60),
      })
      .optional(),
    once: z.literal(true).optional(),
    on: onSchema
      .optional()
      .describe("Run when a webhook event matches: { event: { filter: value } } (docs/tasks.md)"),
    after: z
      .union([
        z.string().min(1),
        z.strictObject({
          task: z.string().min(1),
          when: z.enum(["success", "failure"]).default("success"),
        }),
      ])
      .optional()
      .describe("Run when another task finished: a task name, or { task, when: success|failure }"),
    debounce: duration("debounce")
      .refine(
        (s) => {
          const ms = parseDuration(s);
          return ms === undefined || ms <= 86_400_000;
        },
        { message: "debounce is at most 1d" },
      )
      .optional()
      .describe("on: tasks: events within this window after the first coalesce into one run"),
    notify: z.enum(["always", "on_change", "on_failure", "never"]).default("on_change"),
    report_to: reportToSchema,
    max_runs: z.number().int().positive().optional(),
    timeout: duration("timeout")
      .refine(
        (s) => {
          const ms = parseDuration(s);
          return ms === undefined || (ms >= 10_000 && ms <= 3_600_000);
        },
        { message: "timeout must be between 10s and 1h" },
      )
      .default("5m"),
    tools: z.array(z.enum(TASK_TOOLS)).default([]),
    max_turns: z
      .number()
      .int()
      .min(1)
      .max(MAX_TURNS_LIMIT, `max_turns is at most ${MAX_TURNS_LIMIT}`)
      .default(8)
      .describe("Model turns (calls) a run may take, tool calls included (default 8, at most 50)"),
    enabled: z.boolean().default(true),
  })
  .superRefine((t, ctx) => {
    const triggers = [t.every, t.cron, t.idle, t.once, t.on, t.after].filter(
      (x) => x !== undefined,
    );
    if (triggers.length !== 1) {
      ctx.addIssue({
        code: "custom",
        message: "exactly one trigger is needed: every, cron, idle, once, on or after",
        path: [],
      });
    }
    if (t.debounce !== undefined && t.on === undefined) {
      ctx.addIssue({ code: "custom", message: "debounce applies to on: only", path: ["debounce"] });
    }
    if (t.cron !== undefined) {
      try {
        new Cron(t.cron, { paused: true, ...(t.timezone ? { timezone: t.timezone } : {}) });
      } catch (e) {
        ctx.addIssue({
          code: "custom",
          message: `cron does not parse: ${(e as Error).message}`,
          path: ["cron"],
        });
      }
    }
    if (t.timezone !== undefined && t.cron === undefined) {
      ctx.addIssue({
        code: "custom",
        message: "timezone applies to cron only",
        path: ["timezone"],
      });
    }
    if (t.timezone !== undefined) {
      try {
        new Intl.DateTimeFormat("en-US", { timeZone: t.timezone });
      } catch {
        ctx.addIssue({
          code: "custom",
          message: `unknown timezone ${t.timezone}`,
          path: ["timezone"],
        });
      }
    }
  });

/** Discovery's shortest `every` (a run costs an LLM call; people need time to decide). */
export const DISCOVERY_MIN_EVERY_MS = 30 * 60_000;
/** The most proposals one discovery run may make. */
export const DISCOVERY_MAX_PROPOSALS = 3;

const durationAtLeast = (what: string, minMs: number, minText: string) =>
  duration(what).refine((s) => (parseDuration(s) ?? 0) >= minMs, {
    message: `${what} must be at least ${minText}`,
  });

/** `discovery:`: bg-agent proposes background tasks worth running (off by default). */
export const discoverySchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    every: durationAtLeast("every", DISCOVERY_MIN_EVERY_MS, "30m")
      .default("30m")
      .describe("At most one discovery run this often (at least 30m)"),
    quiet: duration("quiet")
      .default("10m")
      .describe("Runs only after nobody has done anything in the repository for this long"),
    presence: duration("presence")
      .default("2h")
      .describe("...and only when a person was active within this long (someone can approve)"),
    max_proposals: z
      .number()
      .int()
      .min(1)
      .max(DISCOVERY_MAX_PROPOSALS, `max_proposals is at most ${DISCOVERY_MAX_PROPOSALS}`)
      .default(DISCOVERY_MAX_PROPOSALS),
    reject_cooldown: duration("reject_cooldown")
      .default("24h")
      .describe(
        "A task rejected within this long (same name or same prompt) is not proposed again",
      ),
  })
  .superRefine((d, ctx) => {
    const quiet = parseDuration(d.quiet);
    const presence = parseDuration(d.presence);
    if (quiet !== undefined && presence !== undefined && presence <= quiet) {
      ctx.addIssue({
        code: "custom",
        message: `presence (${d.presence}) must be longer than quiet (${d.quiet}): nobody would ever be there to approve`,
        path: ["presence"],
      });
    }
  });

const processorTimeout = (type: string) =>
  duration(`processor_timeout.${type}`)
    .refine(
      (s) => {
        const ms = parseDuration(s);
        return ms === undefined || (ms >= 1_000 && ms <= 6 * 3_600_000);
      },
      { message: `processor_timeout.${type} must be between 1s and 6h` },
    )
    .optional()
    .describe(
      `Outer deadline of one ${type} batch; by default a few minutes more than its own limits`,
    );

/** The outer deadline of one processor call, per task type (src/worker/deadline.ts has the defaults). */
export const processorTimeoutSchema = z.strictObject(
  Object.fromEntries(ORDER.map((t) => [t, processorTimeout(t)])) as Record<
    TaskType,
    ReturnType<typeof processorTimeout>
  >,
);

export const permissionLevels = ["read", "triage", "write", "maintain", "admin"] as const;

export const configSchema = z.strictObject({
  tech_debt: techDebtSchema.prefault({}),
  automerge: automergeSchema.prefault({}),
  /** Each task is validated on its own (see load.ts): one bad task does not stop the others. */
  tasks: z.array(z.unknown()).default([]),
  tasks_max: z
    .number()
    .int()
    .min(1)
    .max(TASKS_MAX_LIMIT, `tasks_max is at most ${TASKS_MAX_LIMIT}`)
    .default(20)
    .describe(
      "The most prompt tasks this repository may have, proposed ones included (default 20, at most 100)",
    ),
  budget: z
    .strictObject({
      daily_usd: z.number().min(0).default(1),
      monthly_usd: z.number().min(0).default(20),
      alert_at: z.number().min(0.1).max(1).default(0.8),
    })
    .prefault({}),
  /**
   * This repository's share of the app's LLM rate limit (BG_LLM_RPM / BG_LLM_TPM): it can only
   * lower it; a value above the app's limit is that limit. Unset: the app's limit.
   */
  rate_limit: z
    .strictObject({
      rpm: z
        .number()
        .int()
        .min(1)
        .optional()
        .describe(
          "At most this many LLM requests per minute for this repository (only lowers BG_LLM_RPM)",
        ),
      tpm: z
        .number()
        .int()
        .min(100)
        .optional()
        .describe(
          "At most this many LLM tokens per minute for this repository (only lowers BG_LLM_TPM)",
        ),
    })
    .prefault({}),
  activity: z
    .strictObject({ pause_when_active_minutes: z.number().min(0).max(1440).default(5) })
    .prefault({}),
  commands: z
    .strictObject({
      min_permission: z.enum(permissionLevels).default("write"),
      max_per_comment: z.number().int().min(1).max(20).default(5),
    })
    .prefault({}),
  /** `concurrency` is deprecated and ignored (kept so old files stay valid): the app's BG_WORKER_CONCURRENCY decides. */
  worker: z
    .strictObject({
      concurrency: z
        .number()
        .int()
        .min(1)
        .max(32)
        .optional()
        .describe(
          "Deprecated, ignored: repositories processed at once is the app's BG_WORKER_CONCURRENCY",
        ),
      workflow: z
        .string()
        .regex(
          /^\.github\/workflows\/[A-Za-z0-9_.-]+\.ya?ml$/,
          "a workflow file under .github/workflows/, e.g. .github/workflows/bg-agent.yml",
        )
        .default(".github/workflows/bg-agent.yml")
        .describe(
          "Connected mode: the only workflow whose runs the app accepts as workers (on the default branch)",
        ),
      events: z
        .array(z.enum(["schedule", "workflow_dispatch", "repository_dispatch", "issue_comment"]))
        .min(1)
        .default(["schedule", "workflow_dispatch"])
        .describe("Connected mode: the workflow events whose runs the app accepts as workers"),
      processor_timeout: processorTimeoutSchema.prefault({}),
    })
    .prefault({}),
  schedule: z.strictObject({ min_interval: duration("min_interval").default("5m") }).prefault({}),
  llm: z
    .strictObject({
      model: z.string().min(1).optional().describe("Overrides BG_LLM_MODEL for this repository"),
      background_model: z
        .string()
        .min(1)
        .optional()
        .describe(
          "A cheaper model for background-only calls (discovery); an answer that fails validation is asked again of the main model, once",
        ),
      pricing: z
        .record(
          z.string(),
          z.strictObject({
            input: z.number().min(0).describe("USD per million uncached input tokens"),
            cached_input: z.number().min(0).describe("USD per million cached input tokens"),
            output: z.number().min(0).describe("USD per million output tokens"),
            batch_cached_input: z
              .number()
              .min(0)
              .optional()
              .describe(
                "USD per million cached input tokens in an OpenAI Batch API request, discount included (unset: the higher of cached_input and half of input)",
              ),
          }),
        )
        .default({}),
      gemini_cache: z
        .strictObject({
          enabled: z
            .boolean()
            .default(true)
            .describe("Create Gemini explicit context caches for prefixes reused often"),
          min_reuse: z
            .number()
            .int()
            .min(0)
            .max(1_000)
            .default(3)
            .describe(
              "Calls with the same prefix within ttl after which the next call creates an explicit cache",
            ),
          ttl: duration("llm.gemini_cache.ttl")
            .refine((s) => (parseDuration(s) ?? 0) >= 60_000, {
              message: "llm.gemini_cache.ttl must be at least 1m",
            })
            .default("10m")
            .describe("How long a Gemini explicit cache lives (storage is billed for it)"),
        })
        .prefault({}),
    })
    .prefault({}),
  fix: z
    .strictObject({
      test_command: z.string().min(1).nullable().default(null),
      test_baseline: z
        .boolean()
        .default(true)
        .describe(
          "Run test_command on the unchanged default branch first, so failures that were there before are not blamed on the fix",
        ),
      timeout: duration("timeout").default("10m"),
      allow_outside_plan: z.boolean().default(false),
      max_files: z.number().int().min(1).max(50).default(10),
      test_one: z
        .string()
        .min(1)
        .max(500)
        .refine((t) => t.includes("{file}") || t.includes("{dir}"), {
          error: "test_one must contain {file} (or {dir}): where the proving test is",
        })
        .nullable()
        .default(null)
        .describe(
          "Command that runs one test: {file} (or {dir}, its folder) and {name} are replaced, shell-quoted; unset: detected (vitest, jest, node --test, pytest, go test, cargo test)",
        ),
      max_revisions: z
        .number()
        .int()
        .min(0)
        .max(20)
        .default(3)
        .describe(
          "Revision rounds per fix pull request (a changes-requested review or /bg revise from a writer adds one commit each); 0 turns revisions off",
        ),
    })
    .prefault({}),
  dashboard: z
    .strictObject({ issue_title: z.string().min(1).max(200).default("bg-agent dashboard") })
    .prefault({}),
  discovery: discoverySchema.prefault({}),
  links: z
    .strictObject({
      allow_hosts: z
        .array(
          z
            .string()
            .regex(/^\.?[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/i, {
              error:
                "allow_hosts entries are host names such as docs.example.com (or .example.com for its subdomains), without a scheme or path",
            }),
        )
        .max(50)
        .default([])
        .describe(
          "Hosts whose links bg-agent keeps clickable in text it posts from model output (images never); the repository's own GitHub pages always are",
        ),
    })
    .prefault({}),
});

export type TaskConfig = z.infer<typeof taskSchema>;
export type DiscoveryConfig = z.infer<typeof discoverySchema>;
export type BaseConfig = z.infer<typeof configSchema>;
/** The validated configuration: tasks are the ones that parsed. */
export type RepoConfig = Omit<BaseConfig, "tasks"> & { tasks: TaskConfig[] };

/** For editors: the schema with tasks described in full. */
export const editorSchema = configSchema.extend({ tasks: z.array(taskSchema).default([]) });

/**
 * The connected-mode wire protocol: what a runner sends the app's worker API (claim, heartbeat,
 * complete, with the records of its work) and what it gets back. The app (src/web/worker-api.ts)
 * validates requests with these schemas; the runner (src/worker/connected.ts) validates the
 * responses and clips its records to RECORD_LIMITS.
 */
import { z } from "zod";
import { RUN_STATUSES } from "./domain.js";
import { RUN_KINDS, TASK_TYPES } from "./task-kinds.js";

const worker = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,64}$/, "worker: letters, digits, - _ . (at most 64)")
  .optional();

export const usageSchema = z.object({
  promptTokens: z.number().int().min(0),
  cachedTokens: z.number().int().min(0),
  completionTokens: z.number().int().min(0),
  costUsd: z.number().min(0).max(10_000),
});

export const claimBodySchema = z.object({
  worker,
  types: z.array(z.enum(TASK_TYPES)).min(1).optional(),
  limit: z.number().int().min(1).max(100).default(10),
  leaseSeconds: z.number().int().min(30).max(3600).default(600),
});

/** The sizes the app takes in a runner's records; the runner clips to them before sending. */
export const RECORD_LIMITS = {
  batches: 100,
  runs: 500,
  analyses: 500,
  url: 2000,
  type: 40,
  provider: 40,
  model: 120,
  status: 20,
  ref: 200,
  message: 4000,
  key: 200,
  hash: 128,
  plan: 20_000,
  files: 200,
  file: 400,
} as const;
const L = RECORD_LIMITS;

const webUrl = z
  .string()
  .max(L.url)
  .refine((u) => /^https?:\/\//i.test(u) && URL.canParse(u), "an http(s) URL");
const text = (max: number) => z.string().max(max);
const usageFields = usageSchema.shape;
const time = z.number().int().min(0);

/**
 * What a connected runner recorded while it worked (its store is discarded after the run): the
 * app keeps them so its dashboard, metrics and intake (an issue analysed at its current content
 * is not queued again) see the runner's work as its own. Ids are the runner's: batches are
 * renumbered, runs name the app's task ids.
 */
export const recordsSchema = z.object({
  batches: z
    .array(
      z.object({
        localId: z.number().int().positive(),
        type: text(L.type),
        provider: text(L.provider).nullable(),
        model: text(L.model).nullable(),
        status: text(L.status),
        items: z.number().int().min(0).max(10_000),
        ...usageFields,
        error: text(L.message).nullable(),
        startedAt: time,
        finishedAt: time.nullable(),
      }),
    )
    .max(L.batches)
    .default([]),
  runs: z
    .array(
      z.object({
        kind: z.enum(RUN_KINDS),
        ref: text(L.ref).nullable(),
        url: webUrl.nullable(),
        taskId: z.number().int().positive().nullable(),
        localBatchId: z.number().int().positive().nullable(),
        status: z.enum(RUN_STATUSES),
        summary: text(L.message).nullable(),
        error: text(L.message).nullable(),
        ...usageFields,
        startedAt: time,
        finishedAt: time.nullable(),
      }),
    )
    .max(L.runs)
    .default([]),
  analyses: z
    .array(
      z.object({
        key: text(L.key).min(1),
        source: z.enum(["github", "linear"]),
        contentHash: text(L.hash).min(1),
        shouldFix: z.boolean(),
        complexity: z.enum(["low", "medium", "high"]),
        plan: text(L.plan),
        affectedFiles: z.array(text(L.file)).max(L.files),
        localBatchId: z.number().int().positive().nullable(),
        analysedAt: time,
        commentUrl: webUrl.nullable(),
      }),
    )
    .max(L.analyses)
    .default([]),
});
export type WireRecords = z.input<typeof recordsSchema>;

export const completeBodySchema = z.object({
  worker,
  /** Parsed on its own (recordsSchema): bad records are dropped, never the results with them. */
  records: z.unknown().optional(),
  results: z
    .array(
      z.object({
        taskId: z.number().int().positive(),
        status: z.enum(["done", "skipped", "retry", "failed"]),
        result: z.unknown().optional(),
        error: z.string().max(4000).optional(),
        retryAt: z.number().int().positive().optional(),
        permanent: z.boolean().optional(),
        usage: usageSchema.optional(),
      }),
    )
    .min(1)
    .max(500),
});

export const heartbeatBodySchema = z.object({
  worker,
  taskIds: z.array(z.number().int().positive()).min(1).max(500),
  leaseSeconds: z.number().int().min(30).max(3600).default(600),
});

/** A task as the API hands it to a runner. */
export const wireTaskSchema = z.object({
  id: z.number().int(),
  repo: z.string(),
  type: z.enum(TASK_TYPES),
  source: z.string(),
  payload: z.record(z.string(), z.unknown()),
  contentHash: z.string().nullable(),
  priority: z.number(),
  attempts: z.number().int(),
  maxAttempts: z.number().int(),
});
export type WireTask = z.infer<typeof wireTaskSchema>;

export const budgetSchema = z.object({
  dailyUsd: z.number(),
  monthlyUsd: z.number(),
  spentTodayUsd: z.number(),
  spentMonthUsd: z.number(),
  remainingUsd: z.number(),
});

export const claimResponseSchema = z.object({
  owner: z.string(),
  leaseSeconds: z.number(),
  tasks: z.array(wireTaskSchema),
  budget: budgetSchema,
  activity: z.object({ lastHumanAt: z.number().nullable(), lastHumanLogin: z.string().nullable() }),
  paused: z
    .object({ by: z.string(), until: z.number().nullable(), reason: z.string().nullable() })
    .nullable(),
});
export type ClaimResponse = z.infer<typeof claimResponseSchema>;

import { z } from "zod";

/** Task names as config allows them (src/config/schema.ts). */
export const TASK_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** A Linear issue identifier (`ENG-123`): a team key, a dash, a number. Any case is accepted. */
export const LINEAR_ID_RE = /^[A-Za-z][A-Za-z0-9]{0,9}-\d{1,9}$/;

/**
 * What `approve` / `reject` may name: a proposal id (`7` or `#7`), a proposal kind on this thread
 * (`fix`, `task`, `merge`), a Linear issue's fix plan (`ENG-123` or `linear:ENG-123`), or a task
 * (`task:<name>`, and for approve a bare `<name>`).
 */
export const whatSchema = z.string().min(1).max(80);

export const commandSchema = z.discriminatedUnion("name", [
  z.object({ name: z.literal("approve"), what: whatSchema.optional() }),
  z.object({
    name: z.literal("reject"),
    what: whatSchema.optional(),
    reason: z.string().max(500).optional(),
  }),
  /** With a duration (or nothing): pauses the repository. With a task name: pauses that task. */
  z.object({
    name: z.literal("pause"),
    duration: z.string().max(20).optional(),
    ms: z.number().int().positive().optional(),
    task: z.string().regex(TASK_NAME_RE).optional(),
  }),
  /** Without a task: ends the repository's pause. With one: resumes that paused or failed task. */
  z.object({ name: z.literal("resume"), task: z.string().regex(TASK_NAME_RE).optional() }),
  z.object({ name: z.literal("status") }),
  z.object({ name: z.literal("tasks") }),
  z.object({ name: z.literal("run"), task: z.string().regex(TASK_NAME_RE) }),
  z.object({ name: z.literal("budget") }),
  z.object({ name: z.literal("simulate") }),
  z.object({ name: z.literal("help"), topic: z.string().max(20).optional() }),
]);
export type Command = z.infer<typeof commandSchema>;
export type CommandName = Command["name"];

/** One `/bg` line of a comment: a command, or why it is not one (answered with the usage). */
export const parsedLineSchema = z.discriminatedUnion("ok", [
  z.object({ ok: z.literal(true), line: z.string().max(300), command: commandSchema }),
  z.object({
    ok: z.literal(false),
    line: z.string().max(300),
    error: z.string().max(500),
    /** The command, when the name was known and only the arguments were wrong. */
    name: z.string().max(20).optional(),
  }),
]);
export type ParsedLine = z.infer<typeof parsedLineSchema>;

/** The `command` task's payload (source `comment:<commentId>`). */
export const commandPayloadSchema = z.object({
  commentId: z.number().int().positive(),
  issueNumber: z.number().int().positive(),
  isPullRequest: z.boolean(),
  author: z.string().min(1).max(100),
  /** The first `/bg` lines of the comment, in order (at most MAX_PARSED). */
  commands: z.array(parsedLineSchema).max(50),
  /** `/bg` lines beyond those, not parsed: reported as ignored. */
  ignored: z.number().int().min(0).default(0),
  /** X-GitHub-Delivery, or null when found by a sweep. */
  deliveryId: z.string().max(100).nullable(),
  commentUrl: z.string().max(500).optional(),
});
export type CommandPayload = z.infer<typeof commandPayloadSchema>;

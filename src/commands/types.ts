import { z } from "zod";
import { commandSchema } from "./registry.js";

export type { Command, CommandName } from "./registry.js";
export { LINEAR_ID_RE, TASK_NAME_RE } from "./names.js";

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

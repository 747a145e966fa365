import { z } from "zod";
import type { ThreadComment } from "../report/own-comments.js";
import type { ProcessorContext } from "../core/worker-contract.js";
import type { Decision } from "./decisions.js";

/**
 * What `help`, the permission check and the parser know of a command: its name, how it is
 * written, and who may run it. Every `/bg` command is one file under ./builtin/ exporting a
 * `BgCommand`; ./registry.ts lists them.
 */
export interface CommandSpec {
  /** The word after `/bg` (lower case). */
  name: string;
  /** Other words for the same command (lower case); none today. */
  aliases?: readonly string[];
  /** `/bg approve [what]`: shown in help and after a parse error. */
  usage: string;
  /** One paragraph for help. */
  summary: string;
  /**
   * Who may run it: `anyone` who can comment, or people with at least `commands.min_permission`
   * on the repository (looked up on GitHub; refused when the lookup fails).
   */
  permission: "anyone" | "min_permission";
  /** Changes state: acted on once per comment line, audited, and waits for a valid config. */
  mutates: boolean;
  /** A state-changing command that still runs on an invalid config (it does not depend on it). */
  runsWithoutConfig?: boolean;
}

/** The argument words after the command's name, and what the parser may need to know. */
export interface ParseInput {
  /** The words after the name (split on spaces and tabs; trailing `.!,;:` of the line dropped). */
  words: readonly string[];
  /** Every command, for arguments that name one (`/bg help run`). */
  commands: readonly CommandSpec[];
}

/** A command's parsed arguments, or why they are wrong (the usage is appended by the parser). */
export type ParseOutcome<A> = { ok: true; args: A } | { ok: false; error: string };

export const parsed = <A>(args: A): ParseOutcome<A> => ({ ok: true, args });
export const parseError = <A>(error: string): ParseOutcome<A> => ({ ok: false, error });

/** Where a command was given and by whom. */
export interface CommandCall {
  ctx: ProcessorContext;
  actor: string;
  /** The issue or PR the comment is on. */
  number: number;
  isPullRequest: boolean;
  /** `issue:12` or `pr:12`: where, in the audit. */
  where: string;
  deliveryId: string | null;
  /** The comment the command is in (absent in some tests). */
  commentId?: number;
  /** Dry-run: describe, change nothing. */
  dryRun: boolean;
  now: number;
  /**
   * The thread's comments, read once per command comment and shared with the reply's upsert
   * (bg-agent's analysis comment and its earlier replies are read from them).
   */
  comments(): Promise<readonly ThreadComment[]>;
  /** bg-agent's own login when this process knows it (the app); see `isOwnAuthor`. */
  selfLogin?: string;
  /** Every command (for `help`). */
  commands: readonly CommandSpec[];
}

export interface HandlerResult {
  /** The reply's Markdown for this command (safe: no user or LLM text unescaped). */
  text: string;
  /** For state-changing commands: what happened, for the audit (`approved proposal 3 ...`). */
  audit?: { result: string; target?: string };
  /** A fix proposal decided: recorded in the reply's hidden state (see ./decisions.ts). */
  decision?: Decision;
}

/**
 * One `/bg` command: its spec, the schema of its parsed arguments (the `command` task's payload
 * carries them, validated when the task runs), its argument parser, how it is written back, and
 * its handler. `A` always has `name` equal to the spec's name.
 */
export interface BgCommand<A extends { name: string } = { name: string }> extends CommandSpec {
  name: A["name"];
  /** The parsed arguments as stored in the task payload. */
  schema: z.ZodType<A>;
  /** The argument words -> typed arguments, or what is wrong with them. */
  parse(input: ParseInput): ParseOutcome<A>;
  /** The command written back in its normal form, for replies (`/bg pause 2h`). */
  format(args: A): string;
  /** The arguments as the audit records them; null for none. */
  auditArgs(args: A): string | null;
  handle(call: CommandCall, args: A): Promise<HandlerResult>;
}

/** A command as its file declares it: the arguments' type is read from its schema alone. */
type Declared<A extends { name: string }, Omitted extends string = never> = {
  schema: z.ZodType<A>;
} & NoInfer<Omit<BgCommand<A>, "schema" | Omitted>>;

/** A command (the identity, typing its parser and handler by its schema). */
export const defineCommand = <A extends { name: string }>(c: Declared<A>): BgCommand<A> => c;

/**
 * A command that changes state: it needs `commands.min_permission`, is acted on once per comment
 * line, is audited, and waits for a valid config unless `runsWithoutConfig`.
 */
export const writeCommand = <A extends { name: string }>(
  c: Declared<A, "permission" | "mutates">,
): BgCommand<A> => ({ ...c, permission: "min_permission", mutates: true });

/**
 * A command that only reports: `/bg <name>` without arguments, open to anyone who can comment,
 * changing nothing (so neither audited nor held back by an invalid config).
 */
export function infoCommand<N extends string>(c: {
  name: N;
  summary: string;
  handle(call: CommandCall): Promise<HandlerResult>;
}): BgCommand<{ name: N }> {
  const { name } = c;
  return {
    name,
    usage: `/bg ${name}`,
    summary: c.summary,
    permission: "anyone",
    mutates: false,
    schema: z.object({ name: z.literal(name) }),
    parse: ({ words }) =>
      words.length ? parseError(`${name} takes no arguments`) : parsed({ name }),
    format: () => `/bg ${name}`,
    auditArgs: () => null,
    handle: (call) => c.handle(call),
  };
}

/** The command a word names (its name or an alias, any case), or undefined. */
export function findCommand<T extends CommandSpec>(
  commands: readonly T[],
  word: string,
): T | undefined {
  const w = word.toLowerCase();
  return commands.find((c) => c.name === w || (c.aliases ?? []).includes(w));
}

/** The usage of every command (or one), as Markdown. */
export function usageMarkdown(
  commands: readonly CommandSpec[],
  only?: string,
  minPermission = "write",
): string {
  const list = only ? commands.filter((c) => c.name === only) : commands;
  const rows = list.map(
    (c) =>
      `- \`${c.usage}\` — ${c.summary}${c.permission === "anyone" ? "" : ` _(needs ${minPermission} permission)_`}`,
  );
  return rows.join("\n");
}

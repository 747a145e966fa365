import type { ThreadComment } from "../../report/own-comments.js";
import type { ProcessorContext } from "../../core/worker-contract.js";
import type { Decision } from "../decisions.js";
import type { Command } from "../types.js";

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
}

export interface HandlerResult {
  /** The reply's Markdown for this command (safe: no user or LLM text unescaped). */
  text: string;
  /** For state-changing commands: what happened, for the audit (`approved proposal 3 ...`). */
  audit?: { result: string; target?: string };
  /** A fix proposal decided: recorded in the reply's hidden state (see ../decisions.ts). */
  decision?: Decision;
}

export type Handler<C extends Command = Command> = (
  call: CommandCall,
  cmd: C,
) => Promise<HandlerResult>;

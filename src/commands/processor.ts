import { upsertComment } from "../report/comments.js";
import type { ThreadComment } from "../report/own-comments.js";
import { sanitizeInline } from "../report/sanitize.js";
import type { Task } from "../core/domain.js";
import type { Processor, ProcessorContext, TaskOutcome } from "../core/worker-contract.js";
import type { Decision } from "./decisions.js";
import { decisionsBlock } from "./decisions.js";
import type { CommandCall, HandlerResult } from "./command.js";
import { usageMarkdown } from "./command.js";
import { formatCommand } from "./parse.js";
import { checkPermission } from "./permission.js";
import type { PermissionDecision } from "./permission.js";
import { collectCommands, SWEEP_LOOKBACK_MS } from "./scan.js";
import { COMMANDS, commandOf } from "./registry.js";
import type { CommandPayload, ParsedLine } from "./types.js";
import { commandPayloadSchema } from "./types.js";
import { errInline } from "../util/errors.js";

/** The `command` processor: acknowledges with 👀, runs each command, replies once per comment. */
export function commandProcessor(): Processor {
  return {
    type: "command",
    usesLlm: false,
    batchSize: () => 5,
    async sweep(ctx) {
      const r = await collectCommands(ctx.octokit, ctx.repo, ctx.store, {
        since: Date.now() - SWEEP_LOOKBACK_MS,
      });
      if (r.queued) ctx.log.info(r, "sweep found unanswered /bg commands");
    },
    async process(ctx, tasks) {
      const out = new Map<number, TaskOutcome>();
      for (const t of tasks) {
        try {
          out.set(t.id, await processCommandTask(ctx, t));
        } catch (e) {
          ctx.log.error({ err: e, task: t.id }, "command task failed");
          out.set(t.id, { status: "failed", error: (e as Error).message });
        }
      }
      return out;
    },
  };
}

interface Section {
  /** The command as quoted in the reply. */
  quote: string;
  text: string;
  /** For the run summary. */
  summary: string;
  decision?: Decision;
}

/** Handles one comment's commands: 👀, each handler, one reply (updated, never duplicated, on retry). */
export async function processCommandTask(
  ctx: ProcessorContext,
  task: Task,
  now = Date.now(),
): Promise<TaskOutcome> {
  const parsed = commandPayloadSchema.safeParse(task.payload);
  if (!parsed.success) {
    return {
      status: "failed",
      permanent: true,
      error: `command task payload is not valid: ${parsed.error.issues[0]?.message ?? "?"}`,
    };
  }
  const p = parsed.data;
  const log = ctx.log.child({ comment: p.commentId, issue: p.issueNumber, actor: p.author });
  const dryRun = ctx.env.dryRun;

  if (dryRun) log.info("dry run: would react with eyes");
  else {
    try {
      await ctx.octokit.rest.reactions.createForIssueComment({
        ...ctx.repo,
        comment_id: p.commentId,
        content: "eyes",
      });
    } catch (e) {
      // The acknowledgement is a courtesy: the reply still says everything.
      log.warn({ err: e }, "could not react to the command comment");
    }
  }

  const max = ctx.config.commands.max_per_comment;
  const acted = p.commands.slice(0, max);
  const ignored = p.commands.length - acted.length + p.ignored;
  let listed: Promise<readonly ThreadComment[]> | undefined;
  const self = ctx.env.selfLogin?.();
  const call: CommandCall = {
    ctx,
    actor: p.author,
    number: p.issueNumber,
    isPullRequest: p.isPullRequest,
    where: `${p.isPullRequest ? "pr" : "issue"}:${p.issueNumber}`,
    deliveryId: p.deliveryId,
    commentId: p.commentId,
    dryRun,
    now,
    comments: () =>
      (listed ??= ctx.octokit.paginate(ctx.octokit.rest.issues.listComments, {
        ...ctx.repo,
        issue_number: p.issueNumber,
        per_page: 100,
      })),
    ...(self ? { selfLogin: self } : {}),
    commands: COMMANDS,
  };
  let permission: Promise<PermissionDecision> | undefined;
  const permit = (): Promise<PermissionDecision> =>
    (permission ??= checkPermission(
      ctx.octokit,
      ctx.repo,
      p.author,
      ctx.config.commands.min_permission,
    ));

  const sections: Section[] = [];
  let unknown = false;
  for (const [i, item] of acted.entries()) {
    if (!item.ok && !item.name) unknown = true;
    sections.push(await handleItem(call, p, i, item, permit));
  }

  const body = renderReply(p, sections, {
    ignored,
    max,
    unknown,
    minPermission: ctx.config.commands.min_permission,
  });
  if (dryRun) {
    log.info({ reply: body }, "dry run: would reply to the command comment");
    return { status: "done", result: { dryRun: true } };
  }
  // The thread as a handler read it, if one did (none of bg-agent's writes since is a reply).
  const known = listed ? await listed.catch(() => undefined) : undefined;
  const res = await upsertComment(
    ctx.octokit,
    ctx.repo,
    p.issueNumber,
    "reply",
    p.commentId,
    body,
    known,
  );
  await ctx.store.runs.record({
    repo: ctx.repoName,
    kind: "command",
    ref: `comment:${p.commentId}`,
    url: res.url,
    taskId: task.id,
    status: "ok",
    summary: sections
      .map((s) => s.summary)
      .join("; ")
      .slice(0, 1000),
  });
  log.info({ reply: res.url, action: res.action }, "command answered");
  return {
    status: "done",
    result: { reply: res.url, commands: sections.map((s) => s.summary), ignored },
  };
}

/** A line of the user's comment, shown in a code span: no backticks, no HTML, bounded. */
const echo = (line: string): string => `\`${line.replace(/[`<>\r\n]/g, "").slice(0, 120)}\``;

const CONFIG_POINTER =
  "⚠️ This repository's `.github/bg-agent.yml` is invalid, so I did not act on this. The `bg-agent/config` check run on the default branch's latest commit lists each problem; fix the file and comment again.";

async function handleItem(
  call: CommandCall,
  p: CommandPayload,
  index: number,
  item: ParsedLine,
  permit: () => Promise<PermissionDecision>,
): Promise<Section> {
  const { ctx } = call;
  if (!item.ok) {
    const text = item.name ? item.error : `${item.error}. The commands are listed below.`;
    return { quote: echo(item.line), text, summary: `invalid: ${item.line.slice(0, 60)}` };
  }
  const cmd = item.command;
  const spec = commandOf(cmd);
  const quote = echo(formatCommand(cmd));
  const source = `comment:${p.commentId}#${index}`;

  if (spec.mutates) {
    // A retried task (the reply failed last time) must not act twice.
    const done = await ctx.store.audit.bySource(source);
    if (done)
      return {
        quote,
        text: `Handled earlier: ${sanitizeInline(done.result, 300)}.`,
        summary: `${cmd.name}: ${done.result}`,
      };
  }

  const audit = async (result: string, target: string = call.where): Promise<void> => {
    if (!spec.mutates || call.dryRun) return;
    await ctx.store.audit.write({
      actor: p.author,
      repo: ctx.repoName,
      target,
      command: cmd.name,
      args: spec.auditArgs(cmd),
      result: result.slice(0, 1000),
      deliveryId: p.deliveryId,
      source,
    });
  };

  if (spec.permission !== "anyone") {
    const d = await permit();
    if (!d.allowed) {
      await audit(`refused: ${d.reason}`);
      return { quote, text: d.reason, summary: `${cmd.name}: refused` };
    }
  }
  const configInvalid = !ctx.configResult.ok;
  if (spec.mutates && configInvalid && !spec.runsWithoutConfig) {
    await audit("refused: the config file is invalid");
    return { quote, text: CONFIG_POINTER, summary: `${cmd.name}: config invalid` };
  }

  let r: HandlerResult;
  try {
    r = await spec.handle(call, cmd);
  } catch (e) {
    ctx.log.error({ err: e, command: cmd.name }, "command handler failed");
    const msg = errInline(e, 300);
    await audit(`error: ${msg}`);
    return {
      quote,
      text: `⚠️ Something went wrong: ${msg}. Nothing else was changed; please try again.`,
      summary: `${cmd.name}: error`,
    };
  }
  if (r.audit) await audit(r.audit.result, r.audit.target);
  const note =
    spec.mutates && configInvalid
      ? "\n\n⚠️ Note: `.github/bg-agent.yml` is invalid, so no new work starts here until it is fixed (see the `bg-agent/config` check run)."
      : "";
  return {
    quote,
    text: r.text + note,
    summary: `${cmd.name}: ${r.audit?.result ?? "answered"}`,
    ...(r.decision && !call.dryRun ? { decision: r.decision } : {}),
  };
}

function renderReply(
  p: CommandPayload,
  sections: Section[],
  o: { ignored: number; max: number; unknown: boolean; minPermission: string },
): string {
  const parts: string[] = [];
  const to = p.commentUrl
    ? `[your comment](${p.commentUrl.replace(/[()\s]/g, "")})`
    : "your comment";
  parts.push(`bg-agent, replying to ${to}:`);
  for (const s of sections) parts.push("", `> ${s.quote}`, "", s.text);
  if (o.ignored > 0) {
    parts.push(
      "",
      "---",
      `${o.ignored} more \`/bg\` line${o.ignored === 1 ? " was" : "s were"} not acted on: at most ${o.max} commands per comment are. Put the rest in another comment.`,
    );
  }
  if (o.unknown)
    parts.push(
      "",
      "**bg-agent commands:**",
      "",
      usageMarkdown(COMMANDS, undefined, o.minPermission),
    );
  const decisions = sections.flatMap((s) => (s.decision ? [s.decision] : []));
  return parts.join("\n") + decisionsBlock(decisions);
}

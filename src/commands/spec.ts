import type { CommandName } from "./types.js";

export interface CommandSpec {
  name: CommandName;
  usage: string;
  summary: string;
  /** Changes state: needs `commands.min_permission`, is audited, and waits for a valid config. */
  mutates: boolean;
  /** Open to anyone who can comment. */
  open: boolean;
}

/** Every `/bg` command, in the order `help` lists them. */
export const COMMANDS: readonly CommandSpec[] = [
  {
    name: "approve",
    usage: "/bg approve [what]",
    summary:
      "Approve bg-agent's open proposal on this thread: on an issue the fix plan (a fix PR follows) or a proposed task (its schedule starts); on a PR bg-agent opened, merging it. `what` may name a proposal id (`7`), a kind (`fix`, `task`, `merge`), a Linear issue's fix plan (`ENG-123`, on any issue of this repository) or a task (`task:nightly-digest`).",
    mutates: true,
    open: false,
  },
  {
    name: "reject",
    usage: "/bg reject [what] [reason...]",
    summary:
      "Dismiss the open proposal (not proposed again for the same content); `what` as for approve (a task as `task:<name>`). Anything after it is kept as the reason.",
    mutates: true,
    open: false,
  },
  {
    name: "pause",
    usage: "/bg pause [duration | task-name]",
    summary:
      "Stop background work in this repository (LLM work and merges), for a while (`2h`, `1d`) or until `/bg resume`. With a task name (`/bg pause nightly-digest`, or `task:2h` for a task named like a duration), pause only that task's schedule until `/bg resume <task>`.",
    mutates: true,
    open: false,
  },
  {
    name: "resume",
    usage: "/bg resume [task-name]",
    summary:
      "End this repository's pause; with a task name, restart that task's schedule after failures stopped it.",
    mutates: true,
    open: false,
  },
  {
    name: "run",
    usage: "/bg run <task-name>",
    summary: "Run a task from `.github/bg-agent.yml` now (the budget still applies).",
    mutates: true,
    open: false,
  },
  {
    name: "status",
    usage: "/bg status",
    summary: "Queue, running work, last runs, pause and activity state of this repository.",
    mutates: false,
    open: true,
  },
  {
    name: "tasks",
    usage: "/bg tasks",
    summary:
      "Every prompt task of this repository in every state (active, paused and why, failed, done, proposed): trigger, next and last run, and a link to the last result.",
    mutates: false,
    open: true,
  },
  {
    name: "budget",
    usage: "/bg budget",
    summary: "LLM spend today and this month against the configured limits.",
    mutates: false,
    open: true,
  },
  {
    name: "simulate",
    usage: "/bg simulate",
    summary: "On a PR: the full automerge evaluation, merging nothing.",
    mutates: false,
    open: true,
  },
  { name: "help", usage: "/bg help [command]", summary: "This list.", mutates: false, open: true },
];

export const specOf = (name: CommandName): CommandSpec => COMMANDS.find((c) => c.name === name)!;

export const isCommandName = (s: string): s is CommandName => COMMANDS.some((c) => c.name === s);

/** The usage of every command (or one), as Markdown. */
export function usageMarkdown(only?: CommandName, minPermission = "write"): string {
  const list = only ? COMMANDS.filter((c) => c.name === only) : COMMANDS;
  const rows = list.map(
    (c) =>
      `- \`${c.usage}\` — ${c.summary}${c.open ? "" : ` _(needs ${minPermission} permission)_`}`,
  );
  return rows.join("\n");
}

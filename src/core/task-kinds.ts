/**
 * The registry of task kinds: the one place a task type is declared. Every list of task types
 * (the store's allowed types and priorities, the pass's order, the modes' types, run kinds, the
 * worker API's and the admin API's filters, the dashboard's rows) is derived from it. The
 * processor and payload schema of each kind are bound in src/processors/registry.ts (core imports
 * nothing of the project but src/util/).
 */

/** The modes the Action's `mode` input and the CLI's `--mode` take. */
export const MODES = ["analyze", "automerge", "tasks", "all"] as const;
export type Mode = (typeof MODES)[number];

export interface TaskKindSpec<T extends string = string, R extends string = string> {
  type: T;
  /** Higher is claimed first: interactive commands first, then merges, then LLM work. */
  priority: number;
  /** Its place in a repository's pass (lower first). */
  order: number;
  /** The modes (besides `all`, which runs every kind) whose passes run this kind. */
  modes: readonly Exclude<Mode, "all">[];
  /** The kind of the runs its processor records (the dashboard's run history). */
  runKind: R;
  /** One line for people (docs, the registry test's messages). */
  description: string;
  /**
   * Runs whatever else waits: an invalid config, a manual pause, people at work (commands, and a
   * proposed config's check run: a pull request may be what fixes the config in force).
   */
  neverWaits?: boolean;
  /**
   * Its processor writes state only a lasting store keeps (proposals): it runs in the app, and
   * runners (standalone or connected), whose store ends with the run, neither claim nor run it.
   */
  appOnly?: boolean;
}

const kind = <const T extends string, const R extends string>(
  spec: TaskKindSpec<T, R>,
): TaskKindSpec<T, R> => spec;

/** Every task kind, in the store's order of types. */
export const TASK_KINDS = [
  kind({
    type: "automerge",
    priority: 50,
    order: 2,
    modes: ["automerge"],
    runKind: "automerge",
    description: "merge a pull request once it is provably safe",
  }),
  kind({
    type: "tech_debt_analysis",
    priority: 10,
    order: 4,
    modes: ["analyze"],
    runKind: "analysis",
    description: "batched LLM analysis of a tech-debt issue (GitHub or Linear)",
  }),
  kind({
    type: "fix",
    priority: 20,
    order: 3,
    modes: ["analyze"],
    runKind: "fix",
    description: "carry out an approved fix plan and open a pull request",
  }),
  kind({
    type: "prompt_task",
    priority: 10,
    order: 5,
    modes: ["tasks"],
    runKind: "prompt_task",
    description: "a scheduled (or manual) prompt task from the config's tasks",
  }),
  kind({
    type: "command",
    priority: 100,
    order: 0,
    // Commands always run: they are what people are waiting on.
    modes: ["analyze", "automerge", "tasks"],
    runKind: "command",
    description: "a `/bg` command someone wrote in a comment",
    neverWaits: true,
  }),
  kind({
    type: "config_check",
    priority: 60,
    order: 1,
    // Like commands, it runs in every mode: the author of the change is waiting on it.
    modes: ["analyze", "automerge", "tasks"],
    runKind: "config_check",
    description: "validate a proposed .github/bg-agent.yml on a branch head (never used)",
    neverWaits: true,
  }),
  kind({
    type: "discovery",
    priority: 5,
    order: 6,
    modes: ["tasks"],
    runKind: "discovery",
    description: "propose background tasks worth running, for people to approve (discovery:)",
    appOnly: true,
  }),
] as const;

type Kinds = (typeof TASK_KINDS)[number];
export type TaskType = Kinds["type"];
export type RunKind = Kinds["runKind"];
export type TaskKind = TaskKindSpec<TaskType, RunKind>;

const tuple = <T extends string>(xs: readonly T[]): readonly [T, ...T[]] =>
  xs as readonly [T, ...T[]];

/** Every task type (a non-empty tuple, for `z.enum`). */
export const TASK_TYPES = tuple(TASK_KINDS.map((k): TaskType => k.type));

/** Every run kind, without repeats, in the registry's order. */
export const RUN_KINDS = tuple([...new Set(TASK_KINDS.map((k): RunKind => k.runKind))]);

/** Each type's default priority. */
export const PRIORITY = Object.fromEntries(TASK_KINDS.map((k) => [k.type, k.priority])) as {
  readonly [K in Kinds as K["type"]]: K["priority"];
};

/** The order a repository's pass runs the types in. */
export const ORDER: readonly TaskType[] = [...TASK_KINDS]
  .sort((a, b) => a.order - b.order)
  .map((k) => k.type);

const typesOf = (m: Mode): readonly TaskType[] =>
  ORDER.filter((t) => m === "all" || kindOf(t).modes.some((x) => x === m));

/** Which task types a mode runs (in the pass's order); `all` runs every kind. */
export const TYPES_BY_MODE: Readonly<Record<Mode, readonly TaskType[]>> = {
  analyze: typesOf("analyze"),
  automerge: typesOf("automerge"),
  tasks: typesOf("tasks"),
  all: typesOf("all"),
};

/** The registry entry of a type. */
export function kindOf(type: TaskType): TaskKind {
  const k = TASK_KINDS.find((x) => x.type === type);
  if (!k)
    throw new Error(`unknown task type ${type}: add it to TASK_KINDS (src/core/task-kinds.ts)`);
  return k;
}

/** The run kind a type's runs are recorded as. */
export const runKindOf = (type: TaskType): RunKind => kindOf(type).runKind;

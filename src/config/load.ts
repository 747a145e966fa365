import type { z } from "zod";
import { minCronGapMs } from "../util/cron.js";
import { formatDuration, parseDuration } from "../util/duration.js";
import { hashOf } from "../util/hash.js";
import type { RepoConfig, TaskConfig } from "./schema.js";
import { TASKS_MAX_LIMIT, configSchema, taskSchema } from "./schema.js";
import { chainProblems } from "./chain.js";
import { knownKeys, unknownKeyMessage } from "./unknown-keys.js";

export const CONFIG_PATH = ".github/bg-agent.yml";

export interface ConfigProblem {
  /** Where in the file, e.g. `tasks[2].every` or `automerge.method`. */
  path: string;
  message: string;
}

export type ConfigResult =
  | {
      ok: true;
      config: RepoConfig;
      /** Problems confined to one task: that task is dropped, the rest works. */
      problems: ConfigProblem[];
      hash: string;
      /** False when no file was found and defaults apply. */
      found: boolean;
      /** The file's content before validation (null: no file). */
      raw: unknown;
    }
  | { ok: false; problems: ConfigProblem[]; hash: string; found: true; raw: unknown };

const formatPath = (path: readonly PropertyKey[]): string =>
  path.reduce<string>(
    (acc, p) => (typeof p === "number" ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)),
    "",
  );

function issuesToProblems(
  error: z.ZodError,
  schema: z.core.$ZodType,
  prefix: readonly PropertyKey[] = [],
): ConfigProblem[] {
  return error.issues.flatMap((i) => {
    if (i.code === "unrecognized_keys") {
      // The schema is strict: each unknown key is a problem at its own path, with a suggestion.
      const known = knownKeys(schema, i.path);
      return i.keys.map((key) => ({
        path: formatPath([...prefix, ...i.path, key]),
        message: unknownKeyMessage(key, known),
      }));
    }
    return [{ path: formatPath([...prefix, ...i.path]) || "(root)", message: i.message }];
  });
}

/**
 * Validates a parsed `.github/bg-agent.yml` (null/undefined: no file, defaults apply).
 * Never throws and never silently replaces a bad file by defaults.
 */
export function parseConfig(raw: unknown): ConfigResult {
  const found = raw !== null && raw !== undefined;
  const hash = hashOf(raw ?? null);
  const input = found ? raw : {};
  if (typeof input !== "object" || Array.isArray(input)) {
    return {
      ok: false,
      found: true,
      hash,
      raw,
      problems: [{ path: "(root)", message: "the file must be a YAML mapping" }],
    };
  }
  // Probot's `_extends` is resolved (and removed) by the loader; a file read some other way may keep it.
  const { _extends: _ignored, ...rest } = input as Record<string, unknown>;
  const parsed = configSchema.safeParse(rest);
  if (!parsed.success)
    return {
      ok: false,
      found: true,
      hash,
      raw,
      problems: issuesToProblems(parsed.error, configSchema),
    };
  if (parsed.data.tasks.length > parsed.data.tasks_max) {
    const n = parsed.data.tasks.length;
    const max = parsed.data.tasks_max;
    return {
      ok: false,
      found: true,
      hash,
      raw,
      problems: [
        {
          path: "tasks",
          message: `${n} tasks are declared but tasks_max is ${max}: remove ${n - max} or raise tasks_max (at most ${TASKS_MAX_LIMIT})`,
        },
      ],
    };
  }
  const problems: ConfigProblem[] = [];
  const tasks: TaskConfig[] = [];
  const minInterval = parseDuration(parsed.data.schedule.min_interval) ?? 300_000;
  const names = new Set<string>();
  /** Each kept task's index in the file. */
  const paths: number[] = [];
  parsed.data.tasks.forEach((t, i) => {
    const r = validateTask(t, ["tasks", i], minInterval, parsed.data.schedule.min_interval);
    if (!r.ok) {
      problems.push(...r.problems);
      return;
    }
    if (names.has(r.task.name)) {
      problems.push({ path: `tasks[${i}].name`, message: `duplicate task name ${r.task.name}` });
      return;
    }
    names.add(r.task.name);
    tasks.push(r.task);
    paths.push(i);
  });
  // `after:` names another task of the file: unknown names and cycles drop the task that says so.
  // Repeated: a task after one dropped here is then after a task that is not declared.
  for (let chained = chainProblems(tasks); chained.length; chained = chainProblems(tasks)) {
    for (const c of chained)
      problems.push({ path: `tasks[${paths[c.index]!}].after`, message: c.message });
    const drop = new Set(chained.map((c) => c.index));
    const kept = tasks.flatMap((t, i) => (drop.has(i) ? [] : [{ t, at: paths[i]! }]));
    tasks.splice(0, tasks.length, ...kept.map((k) => k.t));
    paths.splice(0, paths.length, ...kept.map((k) => k.at));
  }
  return { ok: true, found, hash, raw: raw ?? null, problems, config: { ...parsed.data, tasks } };
}

/**
 * Validates one task declaration (from the config's `tasks:`, or proposed by bg-agent): the
 * schema, then the interval floor (`schedule.min_interval`) for `every:` and for the gap
 * between `cron:` slots. Problems carry the task's path (e.g. `tasks[2].every`).
 */
export function validateTask(
  raw: unknown,
  path: readonly PropertyKey[],
  minIntervalMs: number,
  minIntervalText = formatDuration(minIntervalMs),
): { ok: true; task: TaskConfig } | { ok: false; problems: ConfigProblem[] } {
  const r = taskSchema.safeParse(raw);
  if (!r.success) return { ok: false, problems: issuesToProblems(r.error, taskSchema, path) };
  const at = (key: string): string => formatPath([...path, key]);
  const below = (key: "every" | "cron", what: string): ConfigProblem[] => [
    { path: at(key), message: `${what} below the minimum interval ${minIntervalText}` },
  ];
  if (r.data.every !== undefined && (parseDuration(r.data.every) ?? 0) < minIntervalMs) {
    return { ok: false, problems: below("every", `every: ${r.data.every} is`) };
  }
  if (r.data.cron !== undefined) {
    const gap = minCronGapMs({
      pattern: r.data.cron,
      ...(r.data.timezone ? { timezone: r.data.timezone } : {}),
    });
    if (gap === null) {
      return {
        ok: false,
        problems: [{ path: at("cron"), message: `cron "${r.data.cron}" never fires` }],
      };
    }
    if (gap < minIntervalMs) {
      return {
        ok: false,
        problems: below("cron", `cron "${r.data.cron}" fires every ${formatDuration(gap)},`),
      };
    }
  }
  return { ok: true, task: r.data };
}

/** The configuration used when a repository has no file. */
export const defaultConfig = (): RepoConfig => {
  const r = parseConfig(null);
  if (!r.ok) throw new Error("default configuration does not validate");
  return r.config;
};

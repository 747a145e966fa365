import type { z } from "zod";
import { parseDuration } from "../util/duration.js";
import { hashOf } from "../util/hash.js";
import type { RepoConfig, TaskConfig } from "./schema.js";
import { configSchema, taskSchema } from "./schema.js";

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
  path.reduce<string>((acc, p) => (typeof p === "number" ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)), "");

function issuesToProblems(error: z.ZodError, prefix: readonly PropertyKey[] = []): ConfigProblem[] {
  return error.issues.map((i) => ({ path: formatPath([...prefix, ...i.path]) || "(root)", message: i.message }));
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
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) return { ok: false, found: true, hash, raw, problems: issuesToProblems(parsed.error) };
  const problems: ConfigProblem[] = [];
  const tasks: TaskConfig[] = [];
  const minInterval = parseDuration(parsed.data.schedule.min_interval) ?? 300_000;
  const names = new Set<string>();
  parsed.data.tasks.forEach((t, i) => {
    const r = taskSchema.safeParse(t);
    if (!r.success) {
      problems.push(...issuesToProblems(r.error, ["tasks", i]));
      return;
    }
    if (r.data.every !== undefined && (parseDuration(r.data.every) ?? 0) < minInterval) {
      problems.push({
        path: `tasks[${i}].every`,
        message: `every: ${r.data.every} is below the minimum interval ${parsed.data.schedule.min_interval}`,
      });
      return;
    }
    if (names.has(r.data.name)) {
      problems.push({ path: `tasks[${i}].name`, message: `duplicate task name ${r.data.name}` });
      return;
    }
    names.add(r.data.name);
    tasks.push(r.data);
  });
  return { ok: true, found, hash, raw: raw ?? null, problems, config: { ...parsed.data, tasks } };
}

/** The configuration used when a repository has no file. */
export const defaultConfig = (): RepoConfig => {
  const r = parseConfig(null);
  if (!r.ok) throw new Error("default configuration does not validate");
  return r.config;
};

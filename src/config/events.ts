import { z } from "zod";
import { suggestKey } from "./unknown-keys.js";

/**
 * The webhook events a task's `on:` may name, in ONE table: per event, its filters (the values a
 * filter allows, and how each is read from the payload) and how its summary is built. The config
 * schema, its error messages, docs/tasks.md's table, app.yml's subscriptions (a test checks) and
 * the matching (src/schedule/event-trigger.ts) all derive from it.
 */

type Json = Record<string, unknown>;

const obj = (v: unknown): Json =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Json) : {};
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const num = (v: unknown): number | undefined =>
  typeof v === "number" && Number.isInteger(v) ? v : undefined;
const labelNames = (v: unknown): string[] =>
  Array.isArray(v) ? v.map((l) => str(obj(l).name)).filter((n): n is string => !!n) : [];

/** A filter's value: one value, or a list (any of them matches). */
const oneOrMany = <T extends z.ZodType>(item: T) =>
  z.union([item, z.array(item).min(1).max(20)], {
    error: "a filter value is a string or a list of strings",
  });

const text = z.string().min(1).max(200);
/** Branches and tags; `*` matches any run of characters (`release/*`). */
const refPattern = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[^\s~^:?[\\]+$/, "a branch or tag name, `*` as a wildcard");

export const CONCLUSIONS = [
  "success",
  "failure",
  "neutral",
  "cancelled",
  "timed_out",
  "action_required",
  "stale",
  "skipped",
  "startup_failure",
] as const;

export interface FilterDef {
  /** The values the filter allows (each list item). */
  value: z.ZodType<string>;
  /** What the filter compares, for docs. */
  doc: string;
  /** The payload's value(s); a filter matches when one of them matches one of its values. */
  read(p: Json): string[];
  /** `*` in a filter value is a wildcard. */
  glob?: boolean;
}

/** What the prompt is told about an event. Free text written by people is `untrusted`. */
export interface EventFacts {
  action?: string;
  branch?: string;
  conclusion?: string;
  sha?: string;
  number?: number;
  tag?: string;
  url?: string;
  sender?: string;
  untrusted: { title?: string; name?: string; label?: string };
}

export interface EventDef {
  doc: string;
  /** The actions GitHub sends for it (the `action` filter's values); empty: it has none. */
  actions: readonly string[];
  filters: Record<string, FilterDef>;
  facts(p: Json): EventFacts;
}

const list = (v: string | undefined): string[] => (v === undefined ? [] : [v]);
const actionFilter = (actions: readonly [string, ...string[]]): FilterDef => ({
  value: z.enum(actions, { error: `one of ${actions.join(", ")}` }),
  doc: "the payload's `action`",
  read: (p) => list(str(p.action)),
});
const conclusionFilter = (where: string, at: (p: Json) => Json): FilterDef => ({
  value: z.enum(CONCLUSIONS, { error: `one of ${CONCLUSIONS.join(", ")}` }),
  doc: `\`${where}.conclusion\` (set once it completed)`,
  read: (p) => list(str(at(p).conclusion)),
});
/** `label:` on issues and pull requests: the label added or removed, else any label it has. */
const labelFilter = (where: string): FilterDef => ({
  value: text,
  doc: `the label added/removed (\`labeled\`, \`unlabeled\`), else any label of the ${where}`,
  read: (p) => {
    const changed = str(obj(p.label).name);
    return changed !== undefined ? [changed] : labelNames(obj(p[where]).labels);
  },
});
/** A true/false filter over a boolean field of the payload (absent or not boolean: no value). */
const booleanFilter = (doc: string, get: (p: Json) => unknown): FilterDef => ({
  value: z.enum(["true", "false"], { error: "true or false" }),
  doc,
  read: (p) => {
    const v = get(p);
    return typeof v === "boolean" ? [String(v)] : [];
  },
});
const sender = (p: Json): string | undefined => str(obj(p.sender).login);
const shaOf = (v: unknown): string | undefined => {
  const s = str(v);
  return s && /^[0-9a-f]{40}([0-9a-f]{24})?$/.test(s) ? s : undefined;
};
const suite = (p: Json): Json => obj(p.check_suite);
const checkRun = (p: Json): Json => obj(p.check_run);
const workflowRun = (p: Json): Json => obj(p.workflow_run);
const pr = (p: Json): Json => obj(p.pull_request);
const issue = (p: Json): Json => obj(p.issue);
const release = (p: Json): Json => obj(p.release);

export const EVENTS = {
  check_suite: {
    doc: "A check suite (all checks of one app on a commit) was requested or completed.",
    actions: ["completed", "requested", "rerequested"],
    filters: {
      action: actionFilter(["completed", "requested", "rerequested"]),
      conclusion: conclusionFilter("check_suite", suite),
      branch: {
        value: refPattern,
        glob: true,
        doc: "`check_suite.head_branch`",
        read: (p) => list(str(suite(p).head_branch)),
      },
      app: {
        value: text,
        doc: "the slug of the app that ran the checks (`github-actions`)",
        read: (p) => list(str(obj(suite(p).app).slug)),
      },
    },
    facts: (p) => ({
      ...opt("action", str(p.action)),
      ...opt("branch", str(suite(p).head_branch)),
      ...opt("conclusion", str(suite(p).conclusion)),
      ...opt("sha", shaOf(suite(p).head_sha)),
      ...opt("sender", sender(p)),
      untrusted: { ...opt("name", str(obj(suite(p).app).name)) },
    }),
  },
  check_run: {
    doc: "One check run was created, completed or re-requested.",
    actions: ["created", "completed", "rerequested", "requested_action"],
    filters: {
      action: actionFilter(["created", "completed", "rerequested", "requested_action"]),
      conclusion: conclusionFilter("check_run", checkRun),
      branch: {
        value: refPattern,
        glob: true,
        doc: "`check_run.check_suite.head_branch`",
        read: (p) => list(str(obj(checkRun(p).check_suite).head_branch)),
      },
      name: {
        value: text,
        glob: true,
        doc: "`check_run.name`",
        read: (p) => list(str(checkRun(p).name)),
      },
    },
    facts: (p) => ({
      ...opt("action", str(p.action)),
      ...opt("branch", str(obj(checkRun(p).check_suite).head_branch)),
      ...opt("conclusion", str(checkRun(p).conclusion)),
      ...opt("sha", shaOf(checkRun(p).head_sha)),
      ...opt("url", str(checkRun(p).html_url)),
      ...opt("sender", sender(p)),
      untrusted: { ...opt("name", str(checkRun(p).name)) },
    }),
  },
  workflow_run: {
    doc: "A GitHub Actions workflow run was requested, started or completed.",
    actions: ["requested", "in_progress", "completed"],
    filters: {
      action: actionFilter(["requested", "in_progress", "completed"]),
      conclusion: conclusionFilter("workflow_run", workflowRun),
      branch: {
        value: refPattern,
        glob: true,
        doc: "`workflow_run.head_branch`",
        read: (p) => list(str(workflowRun(p).head_branch)),
      },
      workflow: {
        value: text,
        glob: true,
        doc: "the workflow's name (`workflow_run.name`)",
        read: (p) => list(str(workflowRun(p).name)),
      },
    },
    facts: (p) => ({
      ...opt("action", str(p.action)),
      ...opt("branch", str(workflowRun(p).head_branch)),
      ...opt("conclusion", str(workflowRun(p).conclusion)),
      ...opt("sha", shaOf(workflowRun(p).head_sha)),
      ...opt("number", num(workflowRun(p).run_number)),
      ...opt("url", str(workflowRun(p).html_url)),
      ...opt("sender", sender(p)),
      untrusted: {
        ...opt("name", str(workflowRun(p).name)),
        ...opt("title", str(workflowRun(p).display_title)),
      },
    }),
  },
  pull_request: {
    doc: "A pull request was opened, closed, labeled, synchronized, …",
    actions: [
      "opened",
      "reopened",
      "closed",
      "synchronize",
      "edited",
      "labeled",
      "unlabeled",
      "ready_for_review",
      "converted_to_draft",
      "review_requested",
    ],
    filters: {
      action: actionFilter([
        "opened",
        "reopened",
        "closed",
        "synchronize",
        "edited",
        "labeled",
        "unlabeled",
        "ready_for_review",
        "converted_to_draft",
        "review_requested",
      ]),
      base: {
        value: refPattern,
        glob: true,
        doc: "the branch it merges into (`pull_request.base.ref`)",
        read: (p) => list(str(obj(pr(p).base).ref)),
      },
      label: labelFilter("pull_request"),
      merged: booleanFilter("`pull_request.merged` (with `action: closed`)", (p) => pr(p).merged),
    },
    facts: (p) => ({
      ...opt("action", str(p.action)),
      ...opt("branch", str(obj(pr(p).base).ref)),
      ...opt("number", num(pr(p).number)),
      ...opt("sha", shaOf(obj(pr(p).head).sha)),
      ...opt("url", str(pr(p).html_url)),
      ...opt("sender", sender(p)),
      untrusted: {
        ...opt("title", str(pr(p).title)),
        ...opt("label", str(obj(p.label).name)),
      },
    }),
  },
  issues: {
    doc: "An issue was opened, closed, labeled, …",
    actions: ["opened", "reopened", "closed", "edited", "labeled", "unlabeled", "assigned"],
    filters: {
      action: actionFilter([
        "opened",
        "reopened",
        "closed",
        "edited",
        "labeled",
        "unlabeled",
        "assigned",
      ]),
      label: labelFilter("issue"),
    },
    facts: (p) => ({
      ...opt("action", str(p.action)),
      ...opt("number", num(issue(p).number)),
      ...opt("url", str(issue(p).html_url)),
      ...opt("sender", sender(p)),
      untrusted: {
        ...opt("title", str(issue(p).title)),
        ...opt("label", str(obj(p.label).name)),
      },
    }),
  },
  release: {
    doc: "A release was published, created, edited, …",
    actions: ["published", "created", "released", "prereleased", "edited", "deleted"],
    filters: {
      action: actionFilter([
        "published",
        "created",
        "released",
        "prereleased",
        "edited",
        "deleted",
      ]),
      tag: {
        value: refPattern,
        glob: true,
        doc: "`release.tag_name`",
        read: (p) => list(str(release(p).tag_name)),
      },
      prerelease: booleanFilter("`release.prerelease`", (p) => release(p).prerelease),
    },
    facts: (p) => ({
      ...opt("action", str(p.action)),
      ...opt("tag", str(release(p).tag_name)),
      ...opt("url", str(release(p).html_url)),
      ...opt("sender", sender(p)),
      untrusted: { ...opt("title", str(release(p).name)) },
    }),
  },
  push: {
    doc: "Commits were pushed to a branch.",
    actions: [],
    filters: {
      branch: {
        value: refPattern,
        glob: true,
        doc: "the branch pushed to (`ref` without `refs/heads/`)",
        read: (p) => {
          const ref = str(p.ref);
          return ref?.startsWith("refs/heads/") ? [ref.slice("refs/heads/".length)] : [];
        },
      },
    },
    facts: (p) => {
      const ref = str(p.ref);
      return {
        ...opt("branch", ref?.startsWith("refs/heads/") ? ref.slice(11) : undefined),
        ...opt("tag", ref?.startsWith("refs/tags/") ? ref.slice(10) : undefined),
        ...opt("sha", shaOf(p.after)),
        ...opt("url", str(p.compare)),
        ...opt("sender", sender(p)),
        untrusted: { ...opt("title", str(obj(p.head_commit).message)) },
      };
    },
  },
} as const satisfies Record<string, EventDef>;

export type TaskEventName = keyof typeof EVENTS;
export const TASK_EVENT_NAMES = Object.keys(EVENTS) as TaskEventName[];

const isEventName = (s: string): s is TaskEventName => Object.hasOwn(EVENTS, s);

function opt<K extends string, V>(key: K, v: V | undefined): { [P in K]?: V } {
  return (v === undefined ? {} : { [key]: v }) as { [P in K]?: V };
}

/** A parsed `on:`: per event, per filter, the values (any of them matches). */
export type OnSpec = Partial<Record<TaskEventName, Record<string, string[]>>>;

const backticks = (xs: readonly string[]): string => xs.map((x) => `\`${x}\``).join(", ");

/**
 * `on:` as zod sees it: a mapping of event names to filter mappings (`{}` or null: every event
 * of that kind). Unknown events and filters are errors that name them, with a suggestion.
 */
export const onSchema = z
  .record(z.string(), z.union([z.record(z.string(), z.unknown()), z.null()]), {
    error: "on: maps event names to filters, e.g. { check_suite: { conclusion: failure } }",
  })
  .superRefine((on, ctx) => {
    const names = Object.keys(on);
    if (!names.length)
      ctx.addIssue({
        code: "custom",
        message: `on: names at least one event: ${backticks(TASK_EVENT_NAMES)}`,
      });
    for (const name of names) {
      if (!isEventName(name)) {
        const near = suggestKey(name, TASK_EVENT_NAMES);
        ctx.addIssue({
          code: "custom",
          path: [name],
          message: `unknown event \`${name}\`${near ? `, did you mean \`${near}\`?` : ""} (events: ${backticks(TASK_EVENT_NAMES)})`,
        });
        continue;
      }
      const def: EventDef = EVENTS[name];
      for (const [key, value] of Object.entries(on[name] ?? {})) {
        const f = def.filters[key];
        if (!f) {
          const known = Object.keys(def.filters);
          const near = suggestKey(key, known);
          ctx.addIssue({
            code: "custom",
            path: [name, key],
            message: `unknown filter \`${key}\` for ${name}${near ? `, did you mean \`${near}\`?` : ""} (filters: ${backticks(known)})`,
          });
          continue;
        }
        const values = typeof value === "boolean" ? String(value) : value;
        const r = (Array.isArray(values) ? oneOrMany(f.value) : f.value).safeParse(values);
        if (!r.success)
          ctx.addIssue({
            code: "custom",
            path: [name, key],
            message: `${name}.${key}: ${r.error.issues[0]?.message ?? "not a valid value"}`,
          });
      }
    }
  })
  .transform((on): OnSpec => {
    const out: OnSpec = {};
    for (const [name, filters] of Object.entries(on)) {
      if (!isEventName(name)) continue;
      const f: Record<string, string[]> = {};
      for (const [k, v] of Object.entries(filters ?? {})) {
        const vs = Array.isArray(v) ? v : [v];
        f[k] = vs.map((x) => String(x as string | boolean));
      }
      out[name] = f;
    }
    return out;
  });

const globMatch = (pattern: string, value: string): boolean => {
  if (!pattern.includes("*")) return pattern === value;
  const re = new RegExp(
    `^${pattern
      .split("*")
      .map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
      .join(".*")}$`,
  );
  return re.test(value);
};

/** Whether a delivery (`event`, its payload) matches one event of a task's `on:`. */
export function matchesOn(on: OnSpec, event: string, payload: unknown): boolean {
  if (!isEventName(event)) return false;
  const filters = on[event];
  if (!filters) return false;
  const def: EventDef = EVENTS[event];
  const p = obj(payload);
  return Object.entries(filters).every(([key, wanted]) => {
    const f = def.filters[key];
    if (!f) return false;
    const got = f.read(p);
    return got.some((g) => wanted.some((w) => (f.glob ? globMatch(w, g) : w === g)));
  });
}

/** The facts of a delivery of a supported event (null: not one of the table's events). */
export function eventFacts(event: string, payload: unknown): EventFacts | null {
  if (!isEventName(event)) return null;
  const def: EventDef = EVENTS[event];
  return def.facts(obj(payload));
}

/** docs/tasks.md's table of events and filters (a test keeps the docs in step). */
export function eventsTableMarkdown(): string {
  const rows = TASK_EVENT_NAMES.map((name) => {
    const def: EventDef = EVENTS[name];
    const filters = Object.entries(def.filters)
      .map(([k, f]) => `\`${k}\`: ${f.doc}${f.glob ? " (`*` wildcard)" : ""}`)
      .join("; ");
    return `| \`${name}\` | ${def.doc} | ${filters} |`;
  });
  return ["| Event | When | Filters |", "|---|---|---|", ...rows].join("\n");
}

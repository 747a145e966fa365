import { constants } from "node:fs";
import { mkdir, open, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { z } from "zod";
import { provingTestSchema } from "./proving-test-schema.js";
import { checkPath } from "./safe-path.js";

const searchReplace = z.strictObject({
  path: z.string().min(1),
  search: z.string().min(1, "search must not be empty (use `content` to write a whole file)"),
  replace: z.string(),
});
const wholeFile = z.strictObject({ path: z.string().min(1), content: z.string() });

export const editSchema = z.union([searchReplace, wholeFile]);
export type Edit = z.infer<typeof editSchema>;

/** What the model must answer: a short summary and the edits. */
export const editsAnswerSchema = z.object({
  summary: z.string().max(4_000).optional(),
  edits: z.array(editSchema).min(1, "edits must contain at least one edit").max(200),
  /** The test that fails without the change and passes with it (may be one the edits write). */
  test: provingTestSchema.nullable().optional(),
});
export type EditsAnswer = z.infer<typeof editsAnswerSchema>;

/** The same shape as a strict JSON schema for providers with structured output. */
export const EDITS_JSON_SCHEMA: Record<string, unknown> = {
  type: "object",
  additionalProperties: false,
  required: ["summary", "edits", "test"],
  properties: {
    summary: { type: "string", description: "One or two sentences: what the change does" },
    test: {
      description:
        "A test that fails on the current code and passes with the change (an existing one, or one the edits write); null if there is none",
      anyOf: [
        {
          type: "object",
          additionalProperties: false,
          required: ["file", "name"],
          properties: {
            file: { type: "string", description: "The test file's repository-relative path" },
            name: { type: "string", description: 'The test\'s name in that file, or ""' },
          },
        },
        { type: "null" },
      ],
    },
    edits: {
      type: "array",
      items: {
        anyOf: [
          {
            type: "object",
            additionalProperties: false,
            required: ["path", "search", "replace"],
            properties: {
              path: { type: "string" },
              search: { type: "string", description: "Exact text that occurs once in the file" },
              replace: { type: "string" },
            },
          },
          {
            type: "object",
            additionalProperties: false,
            required: ["path", "content"],
            properties: {
              path: { type: "string" },
              content: { type: "string", description: "The whole new file" },
            },
          },
        ],
      },
    },
  },
};

export type ParseResult = { ok: true; answer: EditsAnswer } | { ok: false; error: string };

/** Parses the model's answer: JSON (a surrounding ``` fence is tolerated), then the schema. */
export function parseEditsAnswer(content: string | null | undefined): ParseResult {
  if (!content || !content.trim()) return { ok: false, error: "the answer was empty" };
  const text = content.trim().replace(/^```(?:json)?\s*\n([\s\S]*?)\n```$/, "$1");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { ok: false, error: `the answer is not JSON (${(e as Error).message})` };
  }
  const r = editsAnswerSchema.safeParse(json);
  if (!r.success) {
    const problems = r.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    return { ok: false, error: `the answer does not match the format: ${problems.join("; ")}` };
  }
  return { ok: true, answer: r.data };
}

export interface EditPolicy {
  root: string;
  /** Whether a path is one of the plan's files (or a test file, which a proving test may need). */
  inPlan: (path: string) => boolean;
  allowOutsidePlan: boolean;
  maxFiles: number;
}

export interface FileChange {
  path: string;
  /** null: the file is new. */
  before: string | null;
  after: string;
}

export type PlanResult =
  | { ok: true; changes: FileChange[] }
  /** A safety rule refused it: never retried, whatever the model says next. */
  | { ok: false; kind: "refused"; error: string }
  /** It did not apply cleanly (not found, ambiguous, too many files): the model may try once more. */
  | { ok: false; kind: "conflict"; error: string };

const count = (haystack: string, needle: string): number => {
  let n = 0;
  for (let i = haystack.indexOf(needle); i !== -1; i = haystack.indexOf(needle, i + needle.length))
    n++;
  return n;
};

const preview = (s: string): string => {
  const first = s.split("\n").find((l) => l.trim()) ?? s;
  return JSON.stringify(first.trim().slice(0, 80));
};

async function readExisting(root: string, path: string): Promise<string | null> {
  try {
    return await readFile(join(root, path), "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
}

/**
 * Checks every edit against the safety rules and computes the new contents in memory. Nothing
 * is written unless every edit applies: a half-applied change is never tested or pushed.
 */
export async function planEdits(answer: EditsAnswer, policy: EditPolicy): Promise<PlanResult> {
  const changes = new Map<string, FileChange>();
  for (const edit of answer.edits) {
    const checked = await checkPath(policy.root, edit.path);
    if (!checked.ok)
      return {
        ok: false,
        kind: "refused",
        error: `refused ${JSON.stringify(edit.path)}: ${checked.reason}`,
      };
    // The file really written (links resolved); several names of one file make one change.
    const path = checked.path;
    if (!policy.allowOutsidePlan) {
      // Both the name asked for and the file it resolves to must be ones the plan names.
      const outside = [checked.requested ?? path, path].find((p) => !policy.inPlan(p));
      if (outside !== undefined) {
        return {
          ok: false,
          kind: "refused",
          error:
            outside === path && checked.requested !== undefined
              ? `refused ${JSON.stringify(edit.path)}: it resolves (through a symbolic link) to ${JSON.stringify(path)}, which is not one of the files named in the approved plan (fix.allow_outside_plan is off)`
              : `refused ${JSON.stringify(outside)}: it is not one of the files named in the approved plan (fix.allow_outside_plan is off)`,
        };
      }
    }
    let change = changes.get(path);
    if (!change) {
      const before = await readExisting(policy.root, path);
      if (before !== null && before.includes("\u0000")) {
        return {
          ok: false,
          kind: "refused",
          error: `refused ${JSON.stringify(path)}: it is a binary file`,
        };
      }
      change = { path, before, after: before ?? "" };
      if (changes.size >= policy.maxFiles) {
        return {
          ok: false,
          kind: "conflict",
          error: `the edits touch more than ${policy.maxFiles} files (fix.max_files); change fewer files`,
        };
      }
      changes.set(path, change);
    }
    if ("content" in edit) {
      change.after = edit.content;
      continue;
    }
    if (change.before === null && change.after === "") {
      return {
        ok: false,
        kind: "conflict",
        error: `${path} does not exist, so its search text cannot be found; give the whole file as \`content\` to create it`,
      };
    }
    const n = count(change.after, edit.search);
    if (n === 0) {
      return {
        ok: false,
        kind: "conflict",
        error: `search text not found in ${path} (starting ${preview(edit.search)}); copy it exactly from the current file`,
      };
    }
    if (n > 1) {
      return {
        ok: false,
        kind: "conflict",
        error: `search text occurs ${n} times in ${path} (starting ${preview(edit.search)}); include more surrounding lines so it occurs once`,
      };
    }
    const at = change.after.indexOf(edit.search);
    change.after =
      change.after.slice(0, at) + edit.replace + change.after.slice(at + edit.search.length);
  }
  return { ok: true, changes: [...changes.values()].filter((c) => c.after !== c.before) };
}

/**
 * Writes planned changes into the checkout. Each path is checked again right before it is written
 * (a test run may have created links since the edits were planned), and the file is opened with
 * O_NOFOLLOW, so a link put in its place is never written through. Returns why a change was
 * refused (nothing after it is written), or undefined when all were written.
 */
export async function writeChanges(
  root: string,
  changes: readonly FileChange[],
): Promise<string | undefined> {
  for (const c of changes) {
    const checked = await checkPath(root, c.path);
    if (!checked.ok) return `refused ${JSON.stringify(c.path)}: ${checked.reason}`;
    if (checked.path !== c.path) {
      return `refused ${JSON.stringify(c.path)}: it now resolves to ${JSON.stringify(checked.path)} through a symbolic link`;
    }
    const target = join(root, c.path);
    await mkdir(dirname(target), { recursive: true });
    const after = await checkPath(root, c.path);
    if (!after.ok || after.path !== c.path) {
      return `refused ${JSON.stringify(c.path)}: ${after.ok ? "its folder changed while it was written" : after.reason}`;
    }
    let file;
    try {
      file = await open(
        target,
        constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW,
        0o644,
      );
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ELOOP")
        return `refused ${JSON.stringify(c.path)}: it is a symbolic link; bg-agent does not write through links`;
      throw e;
    }
    try {
      await file.writeFile(c.after, "utf8");
    } finally {
      await file.close();
    }
  }
  return undefined;
}

import { LineCounter, isMap, isScalar, isSeq, parseDocument } from "yaml";
import type { Node } from "yaml";
import { CONFIG_PATH, parseConfig } from "./load.js";
import type { ConfigProblem } from "./load.js";
import { MAX_CONFIG_BYTES, tooLargeMessage } from "./size.js";

/** A problem with where it is in the file (line and column are 1-based; absent: the whole file). */
export interface LocatedProblem extends ConfigProblem {
  line?: number;
  column?: number;
}

export interface FileValidation {
  /** True when the file has no problem at all (a task-level problem counts: it would be ignored). */
  ok: boolean;
  problems: LocatedProblem[];
  /** Things said about the file that are not problems, e.g. `_extends` not checked offline. */
  notes: string[];
}

/** Aliases a file may expand before it is called a YAML bomb (the `yaml` package's default). */
const MAX_ALIASES = 100;

/** `tasks[2].every` → ["tasks", 2, "every"]. */
function pathSegments(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g))
    out.push(m[2] !== undefined ? Number(m[2]) : m[1]!);
  return out;
}

/**
 * The node a problem's path points at: the key of the last mapping entry found (an unknown key
 * is reported on its own line), or the deepest node that exists along the path.
 */
function nodeAt(root: unknown, path: (string | number)[]): Node | undefined {
  let node: unknown = root;
  let best: Node | undefined = isMap(root) || isSeq(root) ? (root as Node) : undefined;
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) return best;
      if (isScalar(pair.key)) best = pair.key;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === "number") {
      const item: unknown = node.items[seg];
      if (!item) return best;
      if (isMap(item) || isSeq(item) || isScalar(item)) best = item as Node;
      node = item;
    } else return best;
  }
  return best;
}

const plural = (n: number, one: string): string => `${n} ${one}${n === 1 ? "" : "s"}`;

/**
 * Validates the text of a `.github/bg-agent.yml` offline, as the app would (the same schema and
 * unknown-key suggestions), with a line and column for each problem. Never throws and never
 * hangs: a file over MAX_CONFIG_BYTES is refused before YAML parsing, an alias bomb stops at
 * MAX_ALIASES, and anything the YAML parser cannot take is a problem, not a crash.
 * `_extends` is not followed (it needs the network): it is noted as not checked offline.
 */
export function validateConfigText(text: string, file = CONFIG_PATH): FileValidation {
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_CONFIG_BYTES)
    return {
      ok: false,
      notes: [],
      problems: [{ path: "(file)", message: tooLargeMessage(file, bytes) }],
    };
  if (!text.trim())
    return { ok: true, problems: [], notes: ["the file is empty: every default applies"] };
  const lines = new LineCounter();
  let doc: ReturnType<typeof parseDocument>;
  try {
    doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  } catch (e) {
    return {
      ok: false,
      notes: [],
      problems: [{ path: "(file)", message: `is not valid YAML: ${(e as Error).message}` }],
    };
  }
  if (doc.errors.length)
    return {
      ok: false,
      notes: [],
      problems: doc.errors.slice(0, 20).map((e) => {
        const at = e.linePos?.[0] ?? lines.linePos(e.pos[0]);
        return {
          path: "(file)",
          message: `is not valid YAML: ${e.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "")}`,
          line: at.line,
          column: at.col,
        };
      }),
    };
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (e) {
    const bomb = /alias count/i.test((e as Error).message);
    return {
      ok: false,
      notes: [],
      problems: [
        {
          path: "(file)",
          message: bomb
            ? `expands more than ${MAX_ALIASES} YAML aliases (a "YAML bomb"): write the values out instead of repeating anchors`
            : `could not be read as YAML: ${(e as Error).message}`,
        },
      ],
    };
  }
  const notes: string[] = [];
  if (raw !== null && typeof raw === "object" && !Array.isArray(raw) && "_extends" in raw)
    notes.push(
      `_extends: ${JSON.stringify((raw as { _extends: unknown })._extends)} is not checked offline (the base file is read from GitHub when the app loads the config)`,
    );
  const result = parseConfig(raw ?? null);
  if (raw === null || raw === undefined)
    notes.push("the file has no settings: every default applies");
  const problems: LocatedProblem[] = result.problems.map((p) => {
    const node = p.path.startsWith("(") ? undefined : nodeAt(doc.contents, pathSegments(p.path));
    const offset = node?.range?.[0] ?? (p.path === "(root)" ? doc.contents?.range?.[0] : undefined);
    if (offset === undefined) return { ...p };
    const at = lines.linePos(offset);
    return { ...p, line: at.line, column: at.col };
  });
  problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
  return { ok: problems.length === 0, problems, notes };
}

/** The validation as lines for a terminal: `file:line:col: path: message`, then a verdict. */
export function formatValidation(file: string, v: FileValidation): string {
  const out = v.problems.map((p) => {
    const where = p.line ? `${file}:${p.line}:${p.column ?? 1}` : file;
    return `${where}: ${p.path}: ${p.message}`;
  });
  for (const n of v.notes) out.push(`${file}: note: ${n}`);
  out.push(v.ok ? `${file}: valid` : `${file}: invalid (${plural(v.problems.length, "problem")})`);
  return `${out.join("\n")}\n`;
}

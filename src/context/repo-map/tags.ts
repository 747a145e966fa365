import type { Node } from "web-tree-sitter";
import type { Grammar } from "./grammars.js";
import type { LanguageId } from "./languages.js";

export type DefKind =
  | "function"
  | "method"
  | "class"
  | "interface"
  | "type"
  | "enum"
  | "const"
  | "module"
  | "impl"
  | "outline";

/** One line of the map: a definition (or an outline entry) in a file. */
export interface Def {
  name: string;
  kind: DefKind;
  /** 1-based. */
  line: number;
  /** The declaration up to its body, on one line. */
  signature: string;
  /** Nesting under classes, interfaces, modules and impls (0 = top level). */
  depth: number;
  /** The line of the container it is a member of. */
  parentLine?: number;
}

export interface FileTags {
  defs: Def[];
  /** Identifier → how often the file uses it (its own definitions' names excluded). */
  refs: Map<string, number>;
}

/** Kinds whose members are listed (a function's locals are not). */
const CONTAINERS = new Set<DefKind>(["class", "interface", "module", "impl", "enum"]);
const MAX_SIGNATURE = 200;

const oneLine = (s: string): string => {
  const t = s.replace(/\s+/g, " ").trim();
  return t.length > MAX_SIGNATURE ? `${t.slice(0, MAX_SIGNATURE - 1)}…` : t;
};

/**
 * A copy of `s` that does not point into the file's text. V8 keeps a substring of 13 or more
 * characters as a view of the whole string it was cut from, so a name kept in the tags (which the
 * content cache holds for the life of the process) would keep the whole file alive.
 */
const detach = (s: string): string =>
  s.length < 13 ? s : (JSON.parse(JSON.stringify(s)) as string);

/** Where the declaration's body starts, if it has one (functions, classes, arrow consts). */
function bodyOf(node: Node): Node | null {
  const body = node.childForFieldName("body");
  if (body) return body;
  if (node.type === "lexical_declaration" || node.type === "variable_declaration") {
    const value = node.namedChildren
      .find((c) => c?.type === "variable_declarator")
      ?.childForFieldName("value");
    return value?.childForFieldName("body") ?? null;
  }
  return null;
}

/** The declaration as written up to its body (`export async function f(a: A): B`), one line. */
function signatureOf(node: Node): string {
  const text = node.text;
  const body = bodyOf(node);
  let head: string;
  if (body && body.startIndex > node.startIndex && body.startIndex - node.startIndex <= 600)
    head = text.slice(0, body.startIndex - node.startIndex);
  else head = text.split("\n", 1)[0] ?? "";
  const parent = node.parent;
  const exported =
    parent?.type === "export_statement" && parent.startIndex < node.startIndex
      ? parent.text.slice(0, node.startIndex - parent.startIndex)
      : "";
  const kw = node.type === "type_spec" ? "type " : "";
  return oneLine(`${exported}${kw}${head}`.replace(/\s*[:{]\s*$/, ""));
}

/** Languages whose identifiers may contain `$` (JavaScript, TypeScript, Java). */
const DOLLAR_IDENTIFIERS = new Set<LanguageId>(["typescript", "tsx", "javascript", "java"]);

/**
 * The text of the identifier that starts at `at`, read from the source instead of asking the
 * tree for the node's end (a call into WebAssembly per reference). Every grammar's identifier is
 * `[A-Za-z0-9_]` (and `$` where the language allows it) in ASCII, so the longest such run is the
 * token; null when that is not certain and the node must say: an empty run, or a run that stops
 * at a character an identifier may continue with in some grammar (non-ASCII, `\` escapes, Rust's
 * `r#`, JSX's `data-x` names).
 */
function identifierAt(text: string, at: number, dollar: boolean): string | null {
  let end = at;
  for (; end < text.length; end++) {
    const c = text.charCodeAt(end);
    if (!(
      (c >= 97 && c <= 122) ||
      (c >= 65 && c <= 90) ||
      (c >= 48 && c <= 57) ||
      c === 95 ||
      (dollar && c === 36)
    ))
      break;
  }
  if (end === at) return null;
  const next = end < text.length ? text.charCodeAt(end) : 32;
  if (next >= 0x7f || next === 92 || next === 35 || next === 45) return null;
  return text.slice(at, end);
}

/**
 * A file's definitions and references from its syntax tree. Null when parsing ran past
 * `deadline` (ms since epoch): the caller outlines the file instead.
 */
export function extractTags(g: Grammar, text: string, deadline: number): FileTags | null {
  const tree = g.parser.parse(text, null, {
    progressCallback: () => Date.now() > deadline,
  });
  if (!tree) return null;
  try {
    const timeoutMicros = Math.max(1, (deadline - Date.now()) * 1000);
    const matches = g.query.matches(tree.rootNode, { timeoutMicros });
    // A query stopped by its timeout returns the matches found so far: not the file's tags.
    if (Date.now() > deadline) return null;
    // A tree with errors may hold zero-width (missing) identifiers: there, every reference's
    // text comes from its node.
    const scan = !tree.rootNode.hasError;
    const dollar = DOLLAR_IDENTIFIERS.has(g.lang);
    type Found = {
      name: string;
      kind: DefKind;
      node: Node;
      at: number;
      end: number;
      pattern: number;
    };
    const byName = new Map<number, Found>();
    const refAt: number[] = [];
    const refName: string[] = [];
    for (const m of matches) {
      let nameNode: Node | undefined;
      let defNode: Node | undefined;
      let kind: DefKind | undefined;
      for (const c of m.captures) {
        if (c.name === "ref") {
          const at = c.node.startIndex;
          refAt.push(at);
          refName.push((scan && identifierAt(text, at, dollar)) || c.node.text);
        } else if (c.name === "name") nameNode = c.node;
        else if (c.name.startsWith("def.")) {
          defNode = c.node;
          kind = c.name.slice(4) as DefKind;
        }
      }
      if (!nameNode || !defNode || !kind) continue;
      const prev = byName.get(nameNode.startIndex);
      if (prev && prev.pattern <= m.patternIndex) continue;
      byName.set(nameNode.startIndex, {
        name: nameNode.text,
        kind,
        node: defNode,
        at: defNode.startIndex,
        end: defNode.endIndex,
        pattern: m.patternIndex,
      });
    }
    const found = [...byName.values()].sort((a, b) => a.at - b.at || b.end - a.end);
    // Nesting: members of containers are kept, a function's locals are not.
    const defs: Def[] = [];
    const open: Found[] = [];
    const skipped: Found[] = [];
    for (const f of found) {
      while (open.length && open.at(-1)!.end <= f.at) open.pop();
      while (skipped.length && skipped.at(-1)!.end <= f.at) skipped.pop();
      if (skipped.length || (open.length && !CONTAINERS.has(open.at(-1)!.kind))) {
        skipped.push(f);
        continue;
      }
      defs.push({
        name: detach(f.kind === "impl" ? oneLine(f.name) : f.name),
        kind: f.kind,
        line: f.node.startPosition.row + 1,
        signature: detach(signatureOf(f.node)),
        depth: open.length,
        ...(open.length ? { parentLine: open.at(-1)!.node.startPosition.row + 1 } : {}),
      });
      open.push(f);
    }
    const refs = new Map<string, number>();
    for (let i = 0; i < refAt.length; i++) {
      if (byName.has(refAt[i]!)) continue;
      const name = refName[i]!;
      const seen = refs.get(name);
      if (seen === undefined) refs.set(detach(name), 1);
      else refs.set(name, seen + 1);
    }
    return { defs, refs };
  } finally {
    tree.delete();
  }
}

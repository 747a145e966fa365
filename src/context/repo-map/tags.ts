import type { Node } from "web-tree-sitter";
import type { Grammar } from "./grammars.js";

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
    type Found = { name: string; kind: DefKind; node: Node; at: number; pattern: number };
    const byName = new Map<number, Found>();
    const refNodes: { at: number; name: string }[] = [];
    for (const m of matches) {
      let nameNode: Node | undefined;
      let defNode: Node | undefined;
      let kind: DefKind | undefined;
      for (const c of m.captures) {
        if (c.name === "name") nameNode = c.node;
        else if (c.name === "ref") refNodes.push({ at: c.node.startIndex, name: c.node.text });
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
        pattern: m.patternIndex,
      });
    }
    const found = [...byName.values()].sort(
      (a, b) => a.at - b.at || b.node.endIndex - a.node.endIndex,
    );
    // Nesting: members of containers are kept, a function's locals are not.
    const defs: Def[] = [];
    const open: Found[] = [];
    const skipped: Found[] = [];
    for (const f of found) {
      while (open.length && open.at(-1)!.node.endIndex <= f.at) open.pop();
      while (skipped.length && skipped.at(-1)!.node.endIndex <= f.at) skipped.pop();
      if (skipped.length || (open.length && !CONTAINERS.has(open.at(-1)!.kind))) {
        skipped.push(f);
        continue;
      }
      defs.push({
        name: f.kind === "impl" ? oneLine(f.name) : f.name,
        kind: f.kind,
        line: f.node.startPosition.row + 1,
        signature: signatureOf(f.node),
        depth: open.length,
        ...(open.length ? { parentLine: open.at(-1)!.node.startPosition.row + 1 } : {}),
      });
      open.push(f);
    }
    const own = new Set(byName.keys());
    const refs = new Map<string, number>();
    for (const r of refNodes) {
      if (own.has(r.at)) continue;
      refs.set(r.name, (refs.get(r.name) ?? 0) + 1);
    }
    return { defs, refs };
  } finally {
    tree.delete();
  }
}

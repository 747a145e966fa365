/**
 * Codemod: converts call sites to the async store contract (src/store/contract.ts, issue #16).
 *
 *   npx tsx scripts/codemods/async-store.ts            # rewrite files in place
 *   npx tsx scripts/codemods/async-store.ts --dry-run  # only list what it would change
 *   npx tsx scripts/codemods/async-store.ts src/foo.ts # limit edits to these files (the whole program is still analysed)
 *
 * Re-runnable and idempotent: on already converted code it changes nothing. Run it after merging
 * code that still calls the store synchronously, then `npx tsc --noEmit` and `npx eslint src test`
 * for what it leaves (it prints those "hard cases" at the end).
 *
 * What it does, over tsconfig.json's program (src, test, bench, scripts, action/src), to a fixed point:
 *  A. A call of a store method (the receiver's type is an `Async<…>` part, or the method is the
 *     contract's `tx`/`close`/`schemaVersion`) that is not awaited gets `await` (parenthesised where
 *     a member access, call or `!` follows: `(await store.tasks.get(id))!.status`).
 *  B. The function around a new `await` becomes `async` and its return type annotation `T`
 *     becomes `Promise<T>`; calls of the functions it made async get `await` too, and so does a
 *     project call whose promise result tsc rejects where a plain value is needed (TS2339, TS2345,
 *     TS2322, TS2801, …: the diagnostic names a `Promise<…>`).
 *  C. `store.tx(() => { … })` becomes `store.tx(async (t) => { … })`, with `store.part.method(…)`
 *     inside going through `t.` (a call on the top-level store inside a transaction would wait for
 *     that transaction to end: a deadlock).
 * Not rewritten (listed as hard cases): callbacks of .filter/.some/.map/.forEach/.sort/…, the body
 * of `expect(() => …)`, constructors, accessors, type predicates, and a store handed on inside a
 * `tx` callback.
 */
import ts from "typescript";
import { relative, resolve } from "node:path";

const args = process.argv.slice(2);
const dryRun = args.includes("--dry-run");
const only = new Set(args.filter((a) => !a.startsWith("--")).map((a) => resolve(a)));
const root = process.cwd();

const configPath = ts.findConfigFile(root, (f) => ts.sys.fileExists(f), "tsconfig.json");
if (!configPath) throw new Error("no tsconfig.json here: run the codemod from the repository root");
const parsed = ts.getParsedCommandLineOfConfigFile(
  configPath,
  {},
  {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n"));
    },
  },
);
if (!parsed) throw new Error("cannot read tsconfig.json");
const options = parsed.options;
const fileNames = parsed.fileNames;

/** Files rewritten so far (in memory until the end). */
const contents = new Map<string, string>();
const host = ts.createCompilerHost(options, true);
const baseRead = host.readFile.bind(host);
const baseGetSourceFile = host.getSourceFile.bind(host);
host.readFile = (f) => contents.get(resolve(f)) ?? baseRead(f);
host.getSourceFile = (f, lang, onError, shouldCreate) => {
  const text = contents.get(resolve(f));
  if (text !== undefined) return ts.createSourceFile(f, text, lang, true);
  return baseGetSourceFile(f, lang, onError, shouldCreate);
};

const SELF = resolve(root, "scripts/codemods/async-store.ts");
const STORE_DIR = resolve(root, "src/store") + "/";
const CONTRACT_FILES = new Set(
  ["contract.ts", "sqlite-store.ts", "async-adapter.ts"].map((f) => STORE_DIR + f),
);
const CONTRACT_METHODS = new Set(["tx", "close", "schemaVersion"]);
const ARRAY_CALLBACKS = new Set([
  "filter",
  "some",
  "every",
  "map",
  "flatMap",
  "forEach",
  "find",
  "findIndex",
  "findLast",
  "findLastIndex",
  "sort",
  "toSorted",
  "reduce",
  "reduceRight",
]);

interface Edit {
  pos: number;
  end: number;
  text: string;
}
const hard = new Map<string, string>();
/** Functions this run made async ("file#name"): their callers get `await` too. */
const madeAsync = new Set<string>();

function isProjectFile(sf: ts.SourceFile): boolean {
  const f = resolve(sf.fileName);
  return !sf.isDeclarationFile && !f.includes("/node_modules/") && f !== SELF;
}
function editable(sf: ts.SourceFile): boolean {
  const f = resolve(sf.fileName);
  if (!isProjectFile(sf)) return false;
  if (f.startsWith(STORE_DIR)) return false; // the store's own implementation is hand-written
  return only.size === 0 || only.has(f);
}

function where(node: ts.Node): string {
  const sf = node.getSourceFile();
  const { line } = sf.getLineAndCharacterOfPosition(node.getStart());
  return `${relative(root, sf.fileName)}:${line + 1}`;
}
function noteHard(node: ts.Node, why: string): void {
  hard.set(`${where(node)}`, why);
}

function skipParensUp(node: ts.Node): ts.Node {
  let n = node;
  while (ts.isParenthesizedExpression(n.parent)) n = n.parent;
  return n;
}

function isPromiseType(checker: ts.TypeChecker, type: ts.Type): boolean {
  if (type.isUnion()) return type.types.some((t) => isPromiseType(checker, t));
  const name = type.getSymbol()?.getName();
  return name === "Promise" || name === "PromiseLike";
}

type FnLike =
  | ts.FunctionDeclaration
  | ts.FunctionExpression
  | ts.ArrowFunction
  | ts.MethodDeclaration
  | ts.ConstructorDeclaration
  | ts.GetAccessorDeclaration
  | ts.SetAccessorDeclaration;

function enclosingFunction(node: ts.Node): FnLike | undefined {
  for (let n = node.parent; n; n = n.parent) {
    if (
      ts.isFunctionDeclaration(n) ||
      ts.isFunctionExpression(n) ||
      ts.isArrowFunction(n) ||
      ts.isMethodDeclaration(n) ||
      ts.isConstructorDeclaration(n) ||
      ts.isGetAccessorDeclaration(n) ||
      ts.isSetAccessorDeclaration(n)
    )
      return n;
    if (ts.isClassStaticBlockDeclaration(n) || ts.isPropertyDeclaration(n)) return undefined;
  }
  return undefined;
}

function isAsync(fn: ts.Node): boolean {
  return (ts.getCombinedModifierFlags(fn as ts.Declaration) & ts.ModifierFlags.Async) !== 0;
}

/** "file#name" of a function declaration, or undefined when it has no name to match callers by. */
function keyOf(fn: ts.Node): string | undefined {
  const file = resolve(fn.getSourceFile().fileName);
  if ((ts.isFunctionDeclaration(fn) || ts.isMethodDeclaration(fn)) && fn.name) {
    const owner =
      ts.isMethodDeclaration(fn) && ts.isClassLike(fn.parent) && fn.parent.name
        ? fn.parent.name.text + "."
        : "";
    return `${file}#${owner}${fn.name.getText()}`;
  }
  if ((ts.isArrowFunction(fn) || ts.isFunctionExpression(fn)) && fn.parent) {
    const p = fn.parent;
    if (ts.isVariableDeclaration(p) && ts.isIdentifier(p.name)) return `${file}#${p.name.text}`;
  }
  return undefined;
}

/** Why a function cannot simply become async (undefined: it can). */
function hardFunction(fn: FnLike): string | undefined {
  if (ts.isConstructorDeclaration(fn)) return "store call in a constructor";
  if (ts.isGetAccessorDeclaration(fn) || ts.isSetAccessorDeclaration(fn))
    return "store call in an accessor";
  if (
    (ts.isFunctionDeclaration(fn) || ts.isFunctionExpression(fn) || ts.isMethodDeclaration(fn)) &&
    fn.asteriskToken
  )
    return "store call in a generator";
  if (fn.type && ts.isTypePredicateNode(fn.type)) return "store call in a type predicate";
  const p = skipParensUp(fn).parent;
  if ((ts.isArrowFunction(fn) || ts.isFunctionExpression(fn)) && p && ts.isCallExpression(p)) {
    const callee = p.expression;
    if (ts.isPropertyAccessExpression(callee) && ARRAY_CALLBACKS.has(callee.name.text))
      return `store call in a .${callee.name.text}() callback`;
    if (ts.isIdentifier(callee) && callee.text === "expect")
      return "store call in expect(() => …): use `await expect(…).rejects`";
  }
  return undefined;
}

/** The edits that make `fn` async with a `Promise<…>` return type. */
function makeAsync(fn: FnLike, edits: Edit[]): void {
  if (!isAsync(fn)) {
    let pos: number;
    if (ts.isMethodDeclaration(fn)) pos = fn.name.getStart();
    else if (ts.isArrowFunction(fn)) pos = fn.getStart();
    else {
      const kw = fn.getChildren().find((c) => c.kind === ts.SyntaxKind.FunctionKeyword);
      pos = kw ? kw.getStart() : fn.getStart();
    }
    edits.push({ pos, end: pos, text: "async " });
    const key = keyOf(fn);
    if (key) madeAsync.add(key);
  }
  if (fn.type && !/^Promise\s*</.test(fn.type.getText())) {
    edits.push({
      pos: fn.type.getStart(),
      end: fn.type.getEnd(),
      text: `Promise<${fn.type.getText()}>`,
    });
  }
}

/** Whether `call`'s promise is already handled (awaited, chained, voided, collected). */
function handled(call: ts.CallExpression): boolean {
  const top = skipParensUp(call);
  const p = top.parent;
  if (!p) return true;
  if (ts.isAwaitExpression(p) || ts.isVoidExpression(p)) return true;
  if (ts.isPropertyAccessExpression(p) && p.expression === top) {
    if (["then", "catch", "finally"].includes(p.name.text)) return true;
  }
  // expect(store.x()).rejects / .resolves
  if (ts.isCallExpression(p) && ts.isIdentifier(p.expression) && p.expression.text === "expect") {
    const pp = p.parent;
    if (pp && ts.isPropertyAccessExpression(pp) && ["rejects", "resolves"].includes(pp.name.text))
      return true;
  }
  // Promise.all([store.a(), store.b()])
  if (ts.isArrayLiteralExpression(p) && p.parent && ts.isCallExpression(p.parent)) {
    const callee = p.parent.expression;
    if (ts.isPropertyAccessExpression(callee) && callee.expression.getText() === "Promise")
      return true;
  }
  if (ts.isCallExpression(p) && p.arguments.includes(top as ts.Expression)) {
    const callee = p.expression;
    if (ts.isPropertyAccessExpression(callee) && callee.expression.getText() === "Promise")
      return true;
  }
  // `() => store.x()`: the arrow returns the promise (unless it is an array callback).
  if (ts.isArrowFunction(p) && p.body === top) {
    return !mapCallOf(p) && !hardFunction(p);
  }
  // `const p = store.x(); … await p`: a promise kept on purpose, consumed as one later.
  if (ts.isVariableDeclaration(p) && p.initializer === top && ts.isIdentifier(p.name)) {
    const name = p.name.text;
    const scope = enclosingFunction(p) ?? p.getSourceFile();
    const body = scope.getText();
    const asPromise = new RegExp(
      `\\bawait\\s+${name}\\b|\\b${name}\\s*\\.\\s*(then|catch|finally)\\b|expect\\(\\s*${name}\\s*\\)\\s*\\.\\s*(rejects|resolves)|Promise\\.(all|allSettled|race|any)\\([^;]*\\b${name}\\b`,
    );
    if (asPromise.test(body)) return true;
  }
  return false;
}

/** Inserts `await` before `call` (parenthesised where needed) and makes its function async. */
function awaitCall(call: ts.CallExpression, edits: Edit[]): boolean {
  const fn = enclosingFunction(call);
  if (fn) {
    const mapCall = mapCallOf(fn);
    if (mapCall) {
      // xs.map((x) => store.get(x)) → await Promise.all(xs.map(async (x) => await store.get(x)))
      if (!isAsync(fn)) {
        const pos = ts.isArrowFunction(fn)
          ? fn.getStart()
          : fn
              .getChildren()
              .find((c) => c.kind === ts.SyntaxKind.FunctionKeyword)!
              .getStart();
        edits.push({ pos, end: pos, text: "async " });
      }
      if (!handled(mapCall)) wrapPromiseAll(mapCall, edits);
      insertAwait(call, edits);
      return true;
    }
    const why = hardFunction(fn);
    if (why) {
      noteHard(call, why);
      return false;
    }
  } else if (!ts.isSourceFile(call.parent) && isInClassField(call)) {
    noteHard(call, "store call in a class field initialiser");
    return false;
  }
  insertAwait(call, edits);
  if (fn) makeAsync(fn, edits);
  return true;
}

/** The `.map(…)` call whose callback `fn` is (undefined: none). */
function mapCallOf(fn: FnLike): ts.CallExpression | undefined {
  if (!(ts.isArrowFunction(fn) || ts.isFunctionExpression(fn))) return undefined;
  const p = skipParensUp(fn).parent;
  if (!p || !ts.isCallExpression(p) || !p.arguments.includes(skipParensUp(fn) as ts.Expression))
    return undefined;
  const callee = p.expression;
  if (ts.isPropertyAccessExpression(callee) && callee.name.text === "map") return p;
  // Array.from(xs, (x) => …) maps too
  if (
    ts.isPropertyAccessExpression(callee) &&
    callee.getText() === "Array.from" &&
    p.arguments[1] === skipParensUp(fn)
  )
    return p;
  return undefined;
}

/** Whether an expression's parent binds tighter than `await` (needs parentheses). */
function needsParens(top: ts.Node): boolean {
  const p = top.parent;
  return (
    (ts.isPropertyAccessExpression(p) && p.expression === top) ||
    (ts.isElementAccessExpression(p) && p.expression === top) ||
    (ts.isCallExpression(p) && p.expression === top) ||
    ts.isNonNullExpression(p) ||
    ts.isTaggedTemplateExpression(p) ||
    (ts.isBinaryExpression(p) && p.operatorToken.kind === ts.SyntaxKind.AsteriskAsteriskToken)
  );
}

/** `xs.map(…)` → `await Promise.all(xs.map(…))`, and the function around it async. */
function wrapPromiseAll(mapCall: ts.CallExpression, edits: Edit[]): void {
  const paren = needsParens(skipParensUp(mapCall)) && skipParensUp(mapCall) === mapCall;
  edits.push({
    pos: mapCall.getStart(),
    end: mapCall.getStart(),
    text: paren ? "(await Promise.all(" : "await Promise.all(",
  });
  edits.push({ pos: mapCall.getEnd(), end: mapCall.getEnd(), text: paren ? "))" : ")" });
  const outer = enclosingFunction(mapCall);
  if (outer && !hardFunction(outer) && !mapCallOf(outer)) makeAsync(outer, edits);
  else if (outer) noteHard(mapCall, "a .map() of store calls inside a callback: check by hand");
}

function insertAwait(call: ts.CallExpression, edits: Edit[]): void {
  const top = skipParensUp(call);
  const p = top.parent;
  const wrap =
    (ts.isPropertyAccessExpression(p) && p.expression === top) ||
    (ts.isElementAccessExpression(p) && p.expression === top) ||
    (ts.isCallExpression(p) && p.expression === top) ||
    ts.isNonNullExpression(p) ||
    ts.isTaggedTemplateExpression(p) ||
    (ts.isBinaryExpression(p) && p.operatorToken.kind === ts.SyntaxKind.AsteriskAsteriskToken);
  const start = call.getStart();
  if (wrap && top === call) {
    edits.push({ pos: start, end: start, text: "(await " });
    edits.push({ pos: call.getEnd(), end: call.getEnd(), text: ")" });
  } else {
    edits.push({ pos: start, end: start, text: "await " });
  }
}

function isInClassField(node: ts.Node): boolean {
  for (let n = node.parent; n; n = n.parent) if (ts.isPropertyDeclaration(n)) return true;
  return false;
}

function isStoreCall(checker: ts.TypeChecker, call: ts.CallExpression): boolean {
  const callee = call.expression;
  if (!ts.isPropertyAccessExpression(callee)) return false;
  const recv = checker.getTypeAtLocation(callee.expression);
  if (recv.aliasSymbol?.getName() === "Async")
    return isPromiseType(checker, checker.getTypeAtLocation(call));
  if (!CONTRACT_METHODS.has(callee.name.text)) return false;
  if (!isPromiseType(checker, checker.getTypeAtLocation(call))) return false;
  const sym = checker.getSymbolAtLocation(callee.name);
  return !!sym?.declarations?.some((d) => CONTRACT_FILES.has(resolve(d.getSourceFile().fileName)));
}

/** The key of the function a call resolves to (for rule B). */
function calleeKey(checker: ts.TypeChecker, call: ts.CallExpression): string | undefined {
  const decl = checker.getResolvedSignature(call)?.declaration;
  if (!decl) return undefined;
  return keyOf(decl);
}

/** Rule C: `x.tx(() => …)` → `x.tx(async (t) => …)` with `x.part.m()` inside through `t`. */
function rewriteTx(checker: ts.TypeChecker, call: ts.CallExpression, edits: Edit[]): void {
  const callee = call.expression;
  if (!ts.isPropertyAccessExpression(callee) || callee.name.text !== "tx") return;
  if (!isStoreCall(checker, call)) return;
  const fn = call.arguments[0];
  if (!fn || !(ts.isArrowFunction(fn) || ts.isFunctionExpression(fn))) return;
  const recvText = callee.expression.getText();
  const partNames = new Set(
    checker
      .getTypeAtLocation(callee.expression)
      .getProperties()
      .map((s) => s.getName())
      .filter(
        (n) =>
          !["tx", "close", "dialect", "db", "gate", "schemaVersion", "groupCommit"].includes(n),
      ),
  );
  let param: string;
  if (fn.parameters.length === 0) {
    const bodyText = fn.body.getText();
    param = /\bt\b/.test(bodyText) ? "txs" : "t";
    const open = fn.getChildren().find((c) => c.kind === ts.SyntaxKind.OpenParenToken);
    if (!open) return;
    edits.push({ pos: open.getEnd(), end: open.getEnd(), text: param });
  } else {
    const p0 = fn.parameters[0]!;
    if (!ts.isIdentifier(p0.name)) return;
    param = p0.name.text;
  }
  if (!isAsync(fn)) {
    const pos = ts.isArrowFunction(fn)
      ? fn.getStart()
      : fn
          .getChildren()
          .find((c) => c.kind === ts.SyntaxKind.FunctionKeyword)!
          .getStart();
    edits.push({ pos, end: pos, text: "async " });
  }
  const visit = (n: ts.Node): void => {
    if (
      ts.isPropertyAccessExpression(n) &&
      n.expression.getText() === recvText &&
      partNames.has(n.name.text)
    ) {
      edits.push({ pos: n.expression.getStart(), end: n.expression.getEnd(), text: param });
      return;
    }
    const isRecv =
      (ts.isPropertyAccessExpression(n) && n.getText() === recvText) ||
      (ts.isIdentifier(n) && n.text === recvText && !ts.isPropertyAccessExpression(n.parent));
    if (isRecv) {
      // Handed to a helper (`rememberRepo(store, …)`): the helper gets the transaction instead
      // (tsc then asks for its parameter to be `TxStore`/`StoreParts` where it says `Store`).
      if (ts.isCallExpression(n.parent) && n.parent.arguments.includes(n as ts.Expression))
        edits.push({ pos: n.getStart(), end: n.getEnd(), text: param });
      else
        noteHard(
          n,
          `\`${recvText}\` used inside its own tx callback (would wait for the tx: use \`${param}\`)`,
        );
      return;
    }
    ts.forEachChild(n, visit);
  };
  visit(fn.body);
}

function apply(sf: ts.SourceFile, edits: Edit[]): string {
  const uniq = new Map<string, Edit>();
  for (const e of edits) uniq.set(`${e.pos}:${e.end}:${e.text}`, e);
  // Later edits first; at one position, insertions keep their order ("(await " before "async ").
  const list = [...uniq.values()].sort((a, b) => b.pos - a.pos || b.end - a.end);
  let text = sf.getFullText();
  let floor = Infinity;
  for (const e of list) {
    if (e.end > floor) continue; // overlaps an edit already applied: the next round redoes it
    text = text.slice(0, e.pos) + e.text + text.slice(e.end);
    floor = e.pos === e.end ? e.pos + 0.5 : e.pos;
  }
  return text;
}

/** Nodes a diagnostic's span covers: the smallest enclosing node. */
function nodeAt(sf: ts.SourceFile, start: number, length: number): ts.Node {
  let best: ts.Node = sf;
  const visit = (n: ts.Node): void => {
    if (n.getStart(sf) <= start && n.getEnd() >= start + length) {
      best = n;
      ts.forEachChild(n, visit);
    }
  };
  ts.forEachChild(sf, visit);
  return best;
}

const PROMISE_CODES = new Set([
  2339, 2345, 2322, 2801, 2769, 2362, 2363, 2365, 2367, 2488, 2548, 2549, 2461, 2349, 18046, 2740,
  2741, 2739, 2559, 2551, 2532, 2538, 2571, 2802,
]);

function promiseCallsFromDiagnostics(
  program: ts.Program,
  checker: ts.TypeChecker,
): Map<ts.SourceFile, ts.CallExpression[]> {
  const out = new Map<ts.SourceFile, ts.CallExpression[]>();
  for (const sf of program.getSourceFiles()) {
    if (!editable(sf)) continue;
    for (const d of program.getSemanticDiagnostics(sf)) {
      if (d.start === undefined || !PROMISE_CODES.has(d.code)) continue;
      const msg = ts.flattenDiagnosticMessageText(d.messageText, "\n");
      if (!msg.includes("Promise") && d.code !== 2801) continue;
      let node = nodeAt(sf, d.start, d.length ?? 0);
      // Look at the node, then a few ancestors, for an unawaited project call of a promise type.
      let found: ts.CallExpression | undefined;
      const look = (n: ts.Node): void => {
        if (found) return;
        if (
          ts.isCallExpression(n) &&
          !handled(n) &&
          isPromiseType(checker, checker.getTypeAtLocation(n))
        ) {
          const decl = checker.getResolvedSignature(n)?.declaration;
          if (decl && isProjectFile(decl.getSourceFile())) {
            found = n;
            return;
          }
        }
        if (!ts.isFunctionLike(n)) ts.forEachChild(n, look);
      };
      for (let i = 0; i < 4 && node && !found; i++, node = node.parent) look(node);
      if (!found) {
        // `const t = f(); t.repo`: the promise came from a variable's initialiser.
        const at = nodeAt(sf, d.start, d.length ?? 0);
        const ids: ts.Identifier[] = [];
        const collect = (n: ts.Node): void => {
          if (ts.isIdentifier(n)) ids.push(n);
          ts.forEachChild(n, collect);
        };
        collect(at.parent ?? at);
        for (const id of ids) {
          const decl = checker.getSymbolAtLocation(id)?.valueDeclaration;
          if (
            decl &&
            ts.isVariableDeclaration(decl) &&
            decl.initializer &&
            ts.isCallExpression(decl.initializer) &&
            decl.getSourceFile() === sf &&
            !handled(decl.initializer) &&
            isPromiseType(checker, checker.getTypeAtLocation(decl.initializer))
          ) {
            found = decl.initializer;
            break;
          }
        }
      }
      if (found) {
        const list = out.get(sf) ?? [];
        if (!list.includes(found)) list.push(found);
        out.set(sf, list);
      } else {
        noteHard(nodeAt(sf, d.start, d.length ?? 0), `tsc ${d.code}: ${msg.split("\n")[0]}`);
      }
    }
  }
  return out;
}

let program: ts.Program | undefined;
let round = 0;
let changedFiles = new Set<string>();
for (;;) {
  round++;
  program = ts.createProgram({
    rootNames: fileNames,
    options,
    host,
    ...(program ? { oldProgram: program } : {}),
  });
  const checker = program.getTypeChecker();
  const byFile = new Map<ts.SourceFile, Edit[]>();
  let count = 0;
  for (const sf of program.getSourceFiles()) {
    if (!editable(sf)) continue;
    const edits: Edit[] = [];
    const visit = (n: ts.Node): void => {
      if (ts.isCallExpression(n)) {
        if (isStoreCall(checker, n)) {
          rewriteTx(checker, n, edits);
          if (!handled(n)) awaitCall(n, edits);
        } else if (madeAsync.size && !handled(n)) {
          const key = calleeKey(checker, n);
          if (key && madeAsync.has(key)) awaitCall(n, edits);
        }
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
    if (edits.length) {
      byFile.set(sf, edits);
      count += edits.length;
    }
  }
  if (count === 0) {
    // Nothing left by rules A–C: ask tsc where a promise is used as a value.
    for (const [sf, calls] of promiseCallsFromDiagnostics(program, checker)) {
      const edits: Edit[] = [];
      for (const c of calls) awaitCall(c, edits);
      if (edits.length) {
        byFile.set(sf, edits);
        count += edits.length;
      }
    }
  }
  console.error(`round ${round}: ${count} edits in ${byFile.size} files`);
  if (count === 0 || round >= 12) break;
  for (const [sf, edits] of byFile) {
    const f = resolve(sf.fileName);
    contents.set(f, apply(sf, edits));
    changedFiles.add(f);
  }
}

if (!dryRun) {
  for (const f of changedFiles) ts.sys.writeFile(f, contents.get(f)!);
}
for (const f of [...changedFiles].sort())
  console.log(`${dryRun ? "would change" : "changed"} ${relative(root, f)}`);
if (hard.size) {
  console.log(`\n${hard.size} hard cases left for a hand pass:`);
  for (const [at, why] of [...hard].sort()) console.log(`  ${at}  ${why}`);
}
changedFiles = new Set();

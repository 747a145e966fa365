import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Language, Parser, Query } from "web-tree-sitter";
import type { Logger } from "../../log.js";
import type { LanguageId } from "./languages.js";
import { GRAMMAR_FILE } from "./languages.js";
import { TAG_QUERIES } from "./queries.js";
import { clearTagCache } from "./tag-cache.js";

/** A loaded grammar: its language, parser and compiled tag query (one of each per process). */
export interface Grammar {
  lang: LanguageId;
  parser: Parser;
  query: Query;
}

export interface GrammarOptions {
  /** The folder with the grammar wasm files (default: @vscode/tree-sitter-wasm's `wasm/`). */
  wasmDir?: string;
  /** The tree-sitter runtime wasm (default: web-tree-sitter's `tree-sitter.wasm`). */
  runtimeWasm?: string;
}

const require = createRequire(import.meta.url);

/** Where npm installed the wasm files; null when they are not there (e.g. a bundle). */
function findPaths(): { wasmDir: string; runtimeWasm: string } | null {
  // The Action's bundle carries its own copies next to it (scripts/build-action.mjs: action/dist/wasm).
  const bundled = fileURLToPath(new URL("./wasm/", import.meta.url));
  if (existsSync(join(bundled, "tree-sitter.wasm"))) {
    return { wasmDir: bundled, runtimeWasm: join(bundled, "tree-sitter.wasm") };
  }
  try {
    return {
      wasmDir: join(dirname(require.resolve("@vscode/tree-sitter-wasm/package.json")), "wasm"),
      runtimeWasm: require.resolve("web-tree-sitter/tree-sitter.wasm"),
    };
  } catch {
    return null;
  }
}

// Looked up once: `require.resolve` and `existsSync` for every file cost a quarter of a
// second per 1,000 files on a first build.
let found: { paths: ReturnType<typeof findPaths> } | null = null;
const defaultPaths = (): ReturnType<typeof findPaths> => (found ??= { paths: findPaths() }).paths;

let runtime: Promise<void> | null = null;
const grammars = new Map<string, Promise<Grammar | null>>();
/** Languages whose grammar failed to load: said once per process, then the outline is used. */
const failed = new Set<string>();

const initRuntime = (runtimeWasm: string): Promise<void> => {
  // Emscripten's module options are all optional at run time; its type lists every field.
  const options: Partial<EmscriptenModule> = { locateFile: () => runtimeWasm };
  runtime ??= Parser.init(options as EmscriptenModule);
  runtime.catch(() => (runtime = null));
  return runtime;
};

/**
 * The grammar of a language, loaded once per process from the npm package's WebAssembly (never
 * downloaded). Null when it cannot load: the caller falls back to the outline, and the failure
 * is logged once.
 */
export function grammarFor(
  lang: LanguageId,
  log: Logger,
  o: GrammarOptions = {},
): Promise<Grammar | null> {
  const paths = defaultPaths();
  const wasmDir = o.wasmDir ?? paths?.wasmDir;
  const runtimeWasm = o.runtimeWasm ?? paths?.runtimeWasm;
  const key = `${lang}|${wasmDir ?? ""}|${runtimeWasm ?? ""}`;
  let g = grammars.get(key);
  if (g) return g;
  g = (async () => {
    try {
      if (!wasmDir || !runtimeWasm)
        throw new Error(
          "the tree-sitter WebAssembly files are not installed (@vscode/tree-sitter-wasm, web-tree-sitter)",
        );
      await initRuntime(runtimeWasm);
      const language = await Language.load(join(wasmDir, GRAMMAR_FILE[lang]));
      const parser = new Parser();
      parser.setLanguage(language);
      return { lang, parser, query: new Query(language, TAG_QUERIES[lang]) };
    } catch (e) {
      if (!failed.has(lang)) {
        failed.add(lang);
        log.warn(
          { err: e, language: lang },
          `repository map: the ${lang} grammar did not load; ${lang} files get a plain outline`,
        );
      }
      return null;
    }
  })();
  grammars.set(key, g);
  return g;
}

/** Tests: forget loaded grammars, logged failures and the tags parsed with them. */
export function resetGrammars(): void {
  grammars.clear();
  failed.clear();
  clearTagCache();
}

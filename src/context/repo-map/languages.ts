/** The languages the repository map parses with tree-sitter, by file extension. */
export type LanguageId = "typescript" | "tsx" | "javascript" | "python" | "go" | "rust" | "java";

/** The grammar file in @vscode/tree-sitter-wasm/wasm/ of each language. */
export const GRAMMAR_FILE: Readonly<Record<LanguageId, string>> = {
  typescript: "tree-sitter-typescript.wasm",
  tsx: "tree-sitter-tsx.wasm",
  javascript: "tree-sitter-javascript.wasm",
  python: "tree-sitter-python.wasm",
  go: "tree-sitter-go.wasm",
  rust: "tree-sitter-rust.wasm",
  java: "tree-sitter-java.wasm",
};

const BY_EXTENSION: ReadonlyMap<string, LanguageId> = new Map(
  Object.entries({
    ts: "typescript",
    mts: "typescript",
    cts: "typescript",
    tsx: "tsx",
    js: "javascript",
    mjs: "javascript",
    cjs: "javascript",
    jsx: "javascript",
    py: "python",
    pyi: "python",
    go: "go",
    rs: "rust",
    java: "java",
  } satisfies Record<string, LanguageId>),
);

/** Extensions never read: their bytes are not text (counted as binary without a read). */
const BINARY_EXTENSIONS = new Set(
  (
    "png jpg jpeg gif bmp ico webp avif tif tiff psd pdf zip gz tgz bz2 xz 7z rar jar war class " +
    "so dylib dll exe o a lib obj wasm woff woff2 ttf otf eot mp3 mp4 m4a wav ogg flac mov avi " +
    "mkv webm bin dat db sqlite sqlite3 pyc pyo node pdb"
  ).split(" "),
);

export const extensionOf = (path: string): string => {
  const base = path.slice(path.lastIndexOf("/") + 1);
  const dot = base.lastIndexOf(".");
  return dot > 0 ? base.slice(dot + 1).toLowerCase() : "";
};

/** The language a path is parsed as, or null for an outline. `.d.ts` files are TypeScript. */
export const languageOf = (path: string): LanguageId | null =>
  BY_EXTENSION.get(extensionOf(path)) ?? null;

export const binaryByName = (path: string): boolean => BINARY_EXTENSIONS.has(extensionOf(path));

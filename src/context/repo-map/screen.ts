import { binaryByName } from "./languages.js";

/** Why a file was left out of the map. */
export type SkipReason = "binary" | "too large" | "minified" | "bad encoding";

/** Files above this are not read (the 5 MB is far beyond what a map line can use). */
export const MAX_MAP_FILE_BYTES = 1024 * 1024;
/** A line this long means generated or minified code. */
export const MAX_LINE_CHARS = 2_000;

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Decided from the name and size alone, before any read. */
export function screenByName(path: string, size: number | undefined): SkipReason | null {
  if (binaryByName(path)) return "binary";
  if (size !== undefined && size > MAX_MAP_FILE_BYTES) return "too large";
  return null;
}

/**
 * The file's text, or why the map cannot use it: binary (a NUL byte), too large, bad encoding
 * (not UTF-8), minified (a line over 2,000 characters, or a long file of very long lines).
 */
export function screenBytes(bytes: Uint8Array): { text: string } | { skip: SkipReason } {
  if (bytes.length > MAX_MAP_FILE_BYTES) return { skip: "too large" };
  if (bytes.subarray(0, 8000).includes(0)) return { skip: "binary" };
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return { skip: "bad encoding" };
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let start = 0;
  let lines = 0;
  while (start <= text.length) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    if (end - start > MAX_LINE_CHARS) return { skip: "minified" };
    lines++;
    start = end + 1;
  }
  if (text.length > 20_000 && text.length / lines > 300) return { skip: "minified" };
  return { text };
}

import { createHash } from "node:crypto";

export const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");

/** JSON with sorted keys, so equal values hash equal. */
export function stableStringify(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(",")}]`;
  const obj = value as Record<string, unknown>;
  return `{${Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${stableStringify(obj[k])}`)
    .join(",")}}`;
}

export const hashOf = (value: unknown): string => sha256(stableStringify(value)).slice(0, 16);

/**
 * The content hash of an issue for tech-debt analysis: `hashOf({title, body})` with a missing
 * body taken as "" (GitHub sends null for an empty body). Intake, sweeps and processors all use it.
 */
export const issueContentHash = (title: string, body: string | null | undefined): string =>
  hashOf({ title, body: body ?? "" });

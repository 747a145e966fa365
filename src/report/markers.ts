/**
 * Hidden markers in everything bg-agent writes on GitHub: `<!-- bg-agent:KIND:ID -->`, optionally
 * followed by a JSON state block `<!-- bg-agent-state:{...} -->` that a later run reads back.
 */
export const marker = (kind: string, id: string | number): string =>
  `<!-- bg-agent:${kind}:${id} -->`;

export function hasMarker(
  body: string | null | undefined,
  kind: string,
  id: string | number,
): boolean {
  return (body ?? "").includes(marker(kind, id));
}

/** All markers in a body. */
export function readMarkers(body: string | null | undefined): { kind: string; id: string }[] {
  return [...(body ?? "").matchAll(/<!-- bg-agent:([a-z0-9_-]+):([^\s>]+) -->/gi)].map((m) => ({
    kind: m[1]!,
    id: m[2]!,
  }));
}

export function stateBlock(state: unknown): string {
  // `--` cannot appear inside an HTML comment, and no tag may appear in it either (state may hold
  // model text, e.g. an analysis plan): JSON escapes keep them out; JSON.parse reads them back.
  const json = JSON.stringify(state)
    .replace(/--/g, "\\u002d\\u002d")
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e");
  return `<!-- bg-agent-state:${json} -->`;
}

export function readState<T = unknown>(body: string | null | undefined): T | undefined {
  const m = /<!-- bg-agent-state:(.*?) -->/s.exec(body ?? "");
  if (!m) return undefined;
  try {
    return JSON.parse(m[1]!) as T;
  } catch {
    return undefined;
  }
}

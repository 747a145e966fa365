import type { z } from "zod";

/** The inner schema of a wrapper (optional, default, prefault, nullable, pipe…), else undefined. */
function unwrap(schema: z.core.$ZodType): z.core.$ZodType | undefined {
  const def = schema._zod.def as { innerType?: z.core.$ZodType; in?: z.core.$ZodType };
  return def.innerType ?? def.in;
}

/** The keys the schema knows at `path` (an object's shape), or [] where it has none. */
export function knownKeys(root: z.core.$ZodType, path: readonly PropertyKey[]): string[] {
  let s: z.core.$ZodType | undefined = root;
  const step = (key: PropertyKey | undefined): z.core.$ZodType | undefined => {
    for (let guard = 0; s && guard < 20; guard++) {
      const def = s._zod.def as {
        type: string;
        shape?: Record<string, z.core.$ZodType>;
        element?: z.core.$ZodType;
        valueType?: z.core.$ZodType;
      };
      if (key === undefined) {
        if (def.type === "object") return s;
      } else if (def.type === "object" && typeof key === "string") return def.shape?.[key];
      else if (def.type === "array" && typeof key === "number") return def.element;
      else if (def.type === "record") return def.valueType;
      s = unwrap(s);
    }
    return undefined;
  };
  for (const key of path) {
    s = step(key);
    if (!s) return [];
  }
  const obj = step(undefined);
  const shape = obj ? (obj._zod.def as { shape?: Record<string, unknown> }).shape : undefined;
  return shape ? Object.keys(shape) : [];
}

/** Optimal string alignment distance (Levenshtein plus adjacent transpositions). */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The known key closest to `key` when it is close enough to be a typo, else undefined. */
export function suggestKey(key: string, known: readonly string[]): string | undefined {
  const k = key.toLowerCase();
  let best: { key: string; d: number } | undefined;
  for (const candidate of known) {
    const d = distance(k, candidate.toLowerCase());
    if (!best || d < best.d) best = { key: candidate, d };
  }
  if (!best) return undefined;
  return best.d <= Math.max(1, Math.floor(key.length / 3)) ? best.key : undefined;
}

/** A problem's message for an unknown key: names it, with a "did you mean" when one is close. */
export function unknownKeyMessage(key: string, known: readonly string[]): string {
  const near = suggestKey(key, known);
  return `unknown key "${key}"${near ? ` (did you mean "${near}"?)` : ""}`;
}

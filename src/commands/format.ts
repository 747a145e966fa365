/** Text shortened to `n` characters, an ellipsis marking the cut. */
export const shorten = (s: string, n: number): string =>
  s.length > n ? `${s.slice(0, n - 1)}…` : s;

/** A time for a reply: ISO 8601 to the second. */
export const iso = (t: number): string => new Date(t).toISOString().replace(/\.\d{3}Z$/, "Z");

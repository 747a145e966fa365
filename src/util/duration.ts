const UNITS: Record<string, number> = {
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** Parses `30m`, `2h`, `1d`, `90s`, `1h30m` to milliseconds; undefined when it does not parse. */
export function parseDuration(text: string): number | undefined {
  const s = text.trim().toLowerCase();
  if (!/^(\d+\s*[smhdw]\s*)+$/.test(s)) return undefined;
  let total = 0;
  for (const m of s.matchAll(/(\d+)\s*([smhdw])/g)) total += Number(m[1]) * UNITS[m[2]!]!;
  return total > 0 ? total : undefined;
}

/** `5400000` -> `1h30m`. */
export function formatDuration(ms: number): string {
  if (ms < 60_000) return `${Math.round(ms / 1000)}s`;
  const parts: string[] = [];
  let rest = Math.round(ms / 60_000);
  const d = Math.floor(rest / 1440);
  rest -= d * 1440;
  const h = Math.floor(rest / 60);
  const m = rest - h * 60;
  if (d) parts.push(`${d}d`);
  if (h) parts.push(`${h}h`);
  if (m) parts.push(`${m}m`);
  return parts.join("");
}

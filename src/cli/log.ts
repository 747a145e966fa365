import type { LogFn, Logger } from "../log.js";

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
export type LogLevel = keyof typeof LEVELS;

/** Log lines on stderr (stdout is the command's result), from `level` up. */
export function streamLogger(
  level: LogLevel,
  write: (line: string) => void,
  bindings: Record<string, unknown> = {},
): Logger {
  const fn =
    (l: LogLevel): LogFn =>
    (a: string | object, b?: string) => {
      if (LEVELS[l] < LEVELS[level]) return;
      const msg = typeof a === "string" ? a : (b ?? "");
      const obj: Record<string, unknown> =
        typeof a === "string" ? { ...bindings } : { ...bindings, ...a };
      const extra = Object.entries(obj)
        .filter(([, v]) => v !== undefined)
        .map(
          ([k, v]) =>
            `${k}=${v instanceof Error ? v.message : typeof v === "string" ? v : JSON.stringify(v)}`,
        )
        .join(" ");
      write(`${l.padEnd(5)} ${msg}${extra ? ` ${extra}` : ""}\n`);
    };
  return {
    debug: fn("debug"),
    info: fn("info"),
    warn: fn("warn"),
    error: fn("error"),
    child: (more) => streamLogger(level, write, { ...bindings, ...more }),
  };
}

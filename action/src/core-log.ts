import * as core from "@actions/core";
import type { LogFn, Logger } from "../../src/log.js";

const render = (obj: object): string => {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined) continue;
    if (k === "err" && v instanceof Error) parts.push(`err=${v.message}`);
    else parts.push(`${k}=${typeof v === "string" ? v : JSON.stringify(v)}`);
  }
  const text = parts.join(" ");
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
};

/**
 * The worker's logger in a runner: lines in the job log. Problems become annotations through the
 * run summary, not through every log line, so one bad item does not flood the annotations.
 */
export function coreLogger(bindings: Record<string, unknown> = {}): Logger {
  const fn =
    (level: "debug" | "info" | "warn" | "error"): LogFn =>
    (a: string | object, b?: string) => {
      const msg = typeof a === "string" ? a : (b ?? "");
      const extra = render(typeof a === "string" ? bindings : { ...bindings, ...a });
      const line = `${level === "info" || level === "debug" ? "" : `${level}: `}${msg}${extra ? ` (${extra})` : ""}`;
      if (level === "debug") core.debug(line);
      else core.info(line);
    };
  return {
    debug: fn("debug"),
    info: fn("info"),
    warn: fn("warn"),
    error: fn("error"),
    child: (more) => coreLogger({ ...bindings, ...more }),
  };
}

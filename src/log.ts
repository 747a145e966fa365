import { redactDeep, redactSecrets } from "./util/secrets.js";
/** The logger core functions take: pino's shape (Probot's `context.log`), or the Action's core.* adapter. */
export interface LogFn {
  (msg: string): void;
  (obj: object, msg?: string): void;
}

export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  child(bindings: Record<string, unknown>): Logger;
}

/** A logger that drops everything, for tests and benchmarks. */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
};

/** Collects log lines in memory (tests assert on them). */
export function memoryLogger(lines: { level: string; msg: string; obj?: object }[] = []): Logger & {
  lines: typeof lines;
} {
  const mk =
    (level: string, bindings: object): LogFn =>
    (a: string | object, b?: string) => {
      if (typeof a === "string") lines.push({ level, msg: a, obj: bindings });
      else lines.push({ level, msg: b ?? "", obj: { ...bindings, ...a } });
    };
  const make = (bindings: object): Logger => ({
    debug: mk("debug", bindings),
    info: mk("info", bindings),
    warn: mk("warn", bindings),
    error: mk("error", bindings),
    child: (more) => make({ ...bindings, ...more }),
  });
  return Object.assign(make({}), { lines });
}

type Level = "debug" | "info" | "warn" | "error";

/**
 * `parent.child(bindings)`, built when something is first logged at an enabled level. A pino
 * child serialises its bindings when created; intake makes a few per delivery (delivery, repo,
 * PR) and, below the configured level, most log nothing. Children of a lazy child merge their
 * bindings and still create one pino child.
 */
export function lazyChild(parent: Logger, bindings: Record<string, unknown>): Logger {
  const enabled = (parent as { isLevelEnabled?: (level: string) => boolean }).isLevelEnabled;
  let real: Logger | undefined;
  const at =
    (level: Level): LogFn =>
    (a: string | object, b?: string) => {
      if (!real && enabled && !enabled.call(parent, level)) return;
      real ??= parent.child(bindings);
      if (typeof a === "string") real[level](a);
      else real[level](a, b);
    };
  return {
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    child: (more) => (real ? real.child(more) : lazyChild(parent, { ...bindings, ...more })),
  };
}

/**
 * A logger that never writes a secret: registered secrets and token-shaped strings in messages
 * and fields (error messages from providers included) become `[redacted]` (src/util/secrets.ts).
 */
export function redactingLogger(inner: Logger): Logger {
  const at =
    (fn: LogFn): LogFn =>
    (a: string | object, b?: string) => {
      if (typeof a === "string") fn(redactSecrets(a));
      else fn(redactDeep(a) as object, b === undefined ? undefined : redactSecrets(b));
    };
  const wrapped: Logger & { isLevelEnabled?: (level: string) => boolean } = {
    debug: at(inner.debug.bind(inner)),
    info: at(inner.info.bind(inner)),
    warn: at(inner.warn.bind(inner)),
    error: at(inner.error.bind(inner)),
    child: (bindings) =>
      redactingLogger(inner.child(redactDeep(bindings) as Record<string, unknown>)),
  };
  const enabled = (inner as { isLevelEnabled?: (level: string) => boolean }).isLevelEnabled;
  if (enabled) wrapped.isLevelEnabled = (level) => enabled.call(inner, level);
  return wrapped;
}

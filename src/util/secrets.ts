/**
 * Keeping secrets out of everything bg-agent writes (logs, comments, check runs, job summaries,
 * the dashboard API), even when a provider's error message quotes them. Secrets known to the
 * process (its LLM key, Linear key, GitHub token, admin token, webhook secret) are registered
 * where they are read; tokens of well-known shapes are recognised without registration.
 */

const known = new Set<string>();
/** The shortest value registered: shorter ones would redact ordinary words. */
const MIN_SECRET = 6;

/** Registers a secret value (ignored when empty or too short to be one). */
export function registerSecret(value: string | null | undefined): void {
  const v = value?.trim();
  // A value of letters only (a webhook secret like "development") is registered only when long:
  // redacting an ordinary word everywhere would garble what bg-agent writes.
  if (v && v.length >= MIN_SECRET && (/[^A-Za-z]/.test(v) || v.length >= 20)) known.add(v);
}

/** Registers the secrets of an environment (BG_*, LINEAR_API_KEY, GITHUB_TOKEN, Action inputs). */
export function registerEnvSecrets(env: Record<string, string | undefined>): void {
  for (const name of [
    "BG_LLM_API_KEY",
    "BG_ADMIN_TOKEN",
    "BG_SESSION_SECRET",
    "LINEAR_API_KEY",
    "GITHUB_TOKEN",
    "WEBHOOK_SECRET",
    "GITHUB_CLIENT_SECRET",
    "INPUT_LLM-API-KEY",
    "INPUT_LINEAR-API-KEY",
    "INPUT_GITHUB-TOKEN",
  ])
    registerSecret(env[name]);
}

const SHAPES =
  /\b(?:gh[pousr]_[A-Za-z0-9_]{16,}|github_pat_[A-Za-z0-9_]{20,}|sk-(?:proj-|ant-)?[A-Za-z0-9_-]{16,}|lin_(?:api|oauth)_[A-Za-z0-9]{16,}|xox[baprs]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{30,})\b|-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)|\b(Bearer)\s+[A-Za-z0-9._~+/=-]{16,}|\b(token)\s+(?=[A-Za-z._~+/=-]*\d)[A-Za-z0-9._~+/=-]{16,}/g;

export const REDACTED = "[redacted]";

/** The text with every registered secret and every token-shaped string replaced by `[redacted]`. */
export function redactSecrets(text: string): string {
  let t = text;
  for (const s of known) if (t.includes(s)) t = t.split(s).join(REDACTED);
  return t.replace(SHAPES, (_m, bearer: string | undefined, token: string | undefined) => {
    const scheme = bearer ?? token;
    return scheme ? `${scheme} ${REDACTED}` : REDACTED;
  });
}

/** Redacts the strings inside a value meant for a log line (objects, arrays, errors), bounded. */
export function redactDeep(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return redactSecrets(value);
  if (depth > 6 || value === null || typeof value !== "object") return value;
  if (value instanceof Error) {
    const out: Record<string, unknown> = {
      type: value.name,
      message: redactSecrets(value.message),
      ...(value.stack ? { stack: redactSecrets(value.stack) } : {}),
    };
    for (const [k, v] of Object.entries(value)) out[k] = redactDeep(v, depth + 1);
    return out;
  }
  if (Array.isArray(value)) return value.slice(0, 200).map((v) => redactDeep(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = redactDeep(v, depth + 1);
  return out;
}

/** For tests: forgets every registered secret. */
export const clearSecrets = (): void => known.clear();

import type { ExternalTargetKind } from "../../config/report-to.js";
import { registerSecret } from "../../util/secrets.js";
import type { ReportDeliveryStatus } from "../../store/report-deliveries.js";
import { EXTERNAL_TARGETS } from "./index.js";
import type { OutboundReport, TargetCredentials } from "./types.js";

/** Waits before the 2nd and 3rd attempt: 3 attempts in all. */
export const DEFAULT_RETRY_DELAYS_MS: readonly number[] = [1_000, 4_000];
const REQUEST_TIMEOUT_MS = 10_000;

export interface DeliveryOptions {
  /** Where NAME (and NAME_SECRET) are read: process.env by default. */
  env?: Record<string, string | undefined>;
  /** Waits between attempts (tests: [0, 0]); its length + 1 is the number of attempts. */
  retryDelaysMs?: readonly number[];
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
}

export interface DeliveryOutcome {
  /** `slack:NAME` */
  target: string;
  status: ReportDeliveryStatus;
  attempts: number;
  /** Why not delivered, naming the variable, never its value. */
  error: string | null;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);

/** The URL from the variable, or why it cannot be used (the message never quotes the value). */
function targetUrl(name: string, value: string): URL | string {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    return `${name} does not hold a URL`;
  }
  if (url.protocol === "https:") return url;
  if (url.protocol === "http:" && LOOPBACK.has(url.hostname)) return url;
  return `${name} must hold an https:// URL (plain http only to localhost)`;
}

class Permanent extends Error {}

/**
 * Sends one report to `kind:NAME`: the URL from NAME (a variable that is unset or empty is
 * status `unset`: nothing sent), each request POSTed with up to 3 attempts (1 s, then 4 s
 * apart) on network errors, timeouts, 429 and 5xx; any other 4xx is not retried.
 */
export async function deliverExternal(
  target: { kind: ExternalTargetKind; env: string },
  report: OutboundReport,
  o: DeliveryOptions = {},
): Promise<DeliveryOutcome> {
  const label = `${target.kind}:${target.env}`;
  const env = o.env ?? process.env;
  const def = EXTERNAL_TARGETS[target.kind];
  const value = env[target.env];
  const fail = (status: ReportDeliveryStatus, error: string, attempts = 0): DeliveryOutcome => ({
    target: label,
    status,
    attempts,
    error,
  });
  if (!value?.trim()) return fail("unset", `${target.env} is not set`);
  registerSecret(value.trim());
  const url = targetUrl(target.env, value);
  if (typeof url === "string") return fail("failed", url);
  const creds: TargetCredentials = { url: url.href };
  const extra = def.extraEnv?.(target.env);
  if (extra) {
    const secret = env[extra.secret]?.trim();
    if (!secret)
      return fail("unset", `${extra.secret} is not set (the secret that signs ${label}'s reports)`);
    registerSecret(secret);
    creds.secret = secret;
  }
  const requests = def.requests(report, creds);
  const delays = o.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const doFetch = o.fetch ?? fetch;
  let attempts = 0;
  for (const req of requests) {
    let lastError = "";
    let sent = false;
    for (let i = 0; i <= delays.length && !sent; i++) {
      if (i > 0) await sleep(delays[i - 1]!);
      attempts++;
      try {
        const res = await doFetch(url, {
          method: "POST",
          headers: req.headers,
          body: req.body,
          redirect: "error",
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) sent = true;
        else if (res.status === 429 || res.status >= 500) lastError = `HTTP ${res.status}`;
        else throw new Permanent(`HTTP ${res.status}`);
      } catch (e) {
        if (e instanceof Permanent)
          return fail("failed", `${label} answered ${e.message} (not retried)`, attempts);
        lastError = e instanceof Error && e.name === "TimeoutError" ? "timed out" : "no connection";
      }
    }
    if (!sent)
      return fail("failed", `${label}: ${lastError} after ${attempts} attempt(s)`, attempts);
  }
  return { target: label, status: "delivered", attempts, error: null };
}

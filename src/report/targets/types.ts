import type { ExternalTargetKind } from "../../config/report-to.js";

/** A report as it leaves GitHub: bg-agent's words and the (already sanitised) model text. */
export interface OutboundReport {
  /** What happened: a result, a failure, a task paused after failures. */
  kind: "result" | "failure" | "paused";
  repo: string;
  task: string;
  /** One line in bg-agent's words, e.g. "bg-agent task `deploy-watch` (octo/demo)". */
  title: string;
  /** The body, sanitised for chat (src/report/targets/text.ts); the target escapes it further. */
  text: string;
  /** The trigger and run line (`on check_suite · 2026-…`). */
  meta: string;
  /** Where the full report is on GitHub, when it was posted there. */
  url: string | null;
  /** The report's delivery id (also sent as a header by `webhook`). */
  deliveryId: string;
  /** Milliseconds since the epoch. */
  at: number;
}

/** What a target kind reads from the environment for one `kind:NAME`. */
export interface TargetCredentials {
  url: string;
  /** `webhook`: the HMAC key from NAME_SECRET. */
  secret?: string;
}

/** One HTTP POST of a report (Discord may need several). */
export interface TargetRequest {
  body: string;
  headers: Record<string, string>;
}

/** A kind of report target outside GitHub: how to build its requests. */
export interface ExternalTarget {
  kind: ExternalTargetKind;
  /** Other variables it needs besides NAME (webhook: NAME_SECRET). */
  extraEnv?(name: string): { secret: string };
  requests(r: OutboundReport, creds: TargetCredentials): TargetRequest[];
}

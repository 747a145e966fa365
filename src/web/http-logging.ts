/**
 * Keeping the admin token out of the log.
 *
 * Probot's Server logs every request through pino-http, whose default request serializer
 * writes every header, Authorization included: each dashboard poll would put BG_ADMIN_TOKEN
 * in the log. Probot 14.3's `loggingOptions` server option is never applied (the constructor
 * does not keep it), so the fix belongs on the logger itself: create the pino logger handed to
 * `new Server({ log })` / `createProbot` with `redact: LOG_REDACT`. pino applies redaction to
 * every child, pino-http's "http" child included.
 *
 *   const log = pino({ level, name: "probot", messageKey: "msg", redact: LOG_REDACT }, stream);
 */
export const LOG_REDACT = {
  paths: [
    "req.headers.authorization",
    "req.headers.cookie",
    'req.headers["x-hub-signature"]',
    'req.headers["x-hub-signature-256"]',
    'res.headers["set-cookie"]',
  ],
  censor: "[redacted]",
};

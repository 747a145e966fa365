import { createHmac } from "node:crypto";
import type { ExternalTarget } from "./types.js";

export const SIGNATURE_HEADER = "x-bg-signature-256";

/** `sha256=<hex HMAC-SHA256 of body with secret>`, as `X-BG-Signature-256` carries it. */
export const signBody = (secret: string, body: string): string =>
  `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;

/**
 * Any HTTPS endpoint: bg-agent's JSON (event `task.report`), signed with NAME_SECRET:
 * `X-BG-Signature-256: sha256=<hex HMAC-SHA256 of the body>`, plus `X-BG-Delivery` (unique per
 * report) and `X-BG-Timestamp` (seconds; also in the signed body, so a replay is recognisable).
 */
export const webhookTarget: ExternalTarget = {
  kind: "webhook",
  extraEnv: (name) => ({ secret: `${name}_SECRET` }),
  requests(r, creds) {
    const timestamp = Math.floor(r.at / 1000);
    const body = JSON.stringify({
      event: "task.report",
      delivery: r.deliveryId,
      timestamp,
      repo: r.repo,
      task: r.task,
      kind: r.kind,
      title: r.title,
      text: r.text,
      meta: r.meta,
      url: r.url,
    });
    if (!creds.secret) throw new Error("no signing secret");
    return [
      {
        body,
        headers: {
          "content-type": "application/json",
          "user-agent": "bg-agent",
          [SIGNATURE_HEADER]: signBody(creds.secret, body),
          "x-bg-delivery": r.deliveryId,
          "x-bg-timestamp": String(timestamp),
        },
      },
    ];
  },
};

import { request } from "node:http";
import type { Agent } from "node:http";
import { DEFAULT_WEBHOOK_PATH } from "../../src/server.js";

/** A delivery as GitHub sends it: the event name, its id, the JSON body and its signature. */
export interface SignedDelivery {
  name: string;
  id: string;
  body: string;
  signature: string;
}

/**
 * POSTs a signed delivery to an app on 127.0.0.1 over `agent`; resolves with the status and the
 * answer's text (status 0: no answer — the connection failed or the process was killed).
 */
export function postWebhook(
  port: number,
  agent: Agent,
  d: SignedDelivery,
  path = DEFAULT_WEBHOOK_PATH,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path,
        method: "POST",
        agent,
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(d.body),
          "x-github-event": d.name,
          "x-github-delivery": d.id,
          "x-hub-signature-256": d.signature,
        },
      },
      (res) => {
        let text = "";
        res.on("data", (c: Buffer) => (text += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
        res.on("error", () => resolve({ status: 0, text: "" }));
      },
    );
    req.on("error", () => resolve({ status: 0, text: "" }));
    req.end(d.body);
  });
}

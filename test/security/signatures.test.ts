import { createHmac, randomUUID } from "node:crypto";
import { Webhooks } from "@octokit/webhooks";
import nock from "nock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { TestApp } from "../helpers/app-server.js";
import { WEBHOOK_PATH, WEBHOOK_SECRET, seedConfig, startTestApp } from "../helpers/app-server.js";
import { REPO, pullRequestEvent } from "../helpers/payloads.js";
import { rowCounts, totalRows } from "./store-rows.js";

/**
 * Who could attack: anyone who can reach the webhook URL, through the body and the signature
 * headers. Each case sends one forged delivery of a real event (a PR that would queue an
 * automerge task) and counts every row of every table before and after: nothing is written.
 */
let app: TestApp;
beforeEach(async () => {
  app = await startTestApp();
  await seedConfig(app.store, REPO, {});
});
afterEach(() => app.close());

const body = JSON.stringify(pullRequestEvent());
const hmac = (algo: "sha256" | "sha1", secret: string, text: string) =>
  `${algo}=${createHmac(algo, secret).update(text).digest("hex")}`;

async function post(text: string, headers: Record<string, string>): Promise<number> {
  const res = await fetch(`${app.url}${WEBHOOK_PATH}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-github-event": "pull_request",
      "x-github-delivery": randomUUID(),
      ...headers,
    },
    body: text,
  });
  await res.text();
  return res.status;
}

const forged: { name: string; status: number; send: () => Promise<number> }[] = [
  { name: "no signature header", status: 400, send: () => post(body, {}) },
  {
    name: "a wrong signature (random hex)",
    status: 401,
    send: () => post(body, { "x-hub-signature-256": `sha256=${"0123abcd".repeat(8)}` }),
  },
  {
    name: "signed with another secret",
    status: 401,
    send: () => post(body, { "x-hub-signature-256": hmac("sha256", "another-secret", body) }),
  },
  {
    name: "the body swapped after signing (a closed PR signed, an opened one sent)",
    status: 401,
    send: () =>
      post(body, {
        "x-hub-signature-256": hmac(
          "sha256",
          WEBHOOK_SECRET,
          JSON.stringify(pullRequestEvent({ action: "closed", state: "closed" })),
        ),
      }),
  },
  {
    name: "one byte appended after signing",
    status: 401,
    send: () => post(`${body} `, { "x-hub-signature-256": hmac("sha256", WEBHOOK_SECRET, body) }),
  },
  {
    name: "the signature of an empty body, sent with a real body",
    status: 401,
    send: () => post(body, { "x-hub-signature-256": hmac("sha256", WEBHOOK_SECRET, "") }),
  },
  {
    name: "an empty body with its own valid signature",
    status: 401,
    send: () => post("", { "x-hub-signature-256": hmac("sha256", WEBHOOK_SECRET, "") }),
  },
  {
    name: "only the legacy sha1 header, correctly signed",
    status: 400,
    send: () => post(body, { "x-hub-signature": hmac("sha1", WEBHOOK_SECRET, body) }),
  },
  {
    name: "a valid sha1 HMAC in the sha256 header",
    status: 401,
    send: () => post(body, { "x-hub-signature-256": hmac("sha1", WEBHOOK_SECRET, body) }),
  },
  {
    name: "a truncated signature (63 hex digits)",
    status: 401,
    send: () =>
      post(body, { "x-hub-signature-256": hmac("sha256", WEBHOOK_SECRET, body).slice(0, -1) }),
  },
  {
    name: "the bare hex digest without the sha256= prefix",
    status: 401,
    send: () =>
      post(body, {
        "x-hub-signature-256": hmac("sha256", WEBHOOK_SECRET, body).slice("sha256=".length),
      }),
  },
];

describe("webhook signatures: a forged delivery is refused and writes nothing", () => {
  for (const f of forged) {
    it(`injects ${f.name}: ${f.status}, 0 rows written, 0 tasks`, async () => {
      const before = rowCounts(app.store);
      expect(await f.send()).toBe(f.status);
      expect(rowCounts(app.store)).toEqual(before);
      expect(await app.store.tasks.list()).toEqual([]);
      expect(nock.pendingMocks()).toEqual([]);
    });
  }

  it("the control: the same body correctly signed is recorded once (lost 0), replayed it is a duplicate (done twice 0)", async () => {
    const before = totalRows(app.store);
    const signature = await new Webhooks({ secret: WEBHOOK_SECRET }).sign(body);
    const id = randomUUID();
    const send = () =>
      fetch(`${app.url}${WEBHOOK_PATH}`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-github-event": "pull_request",
          "x-github-delivery": id,
          "x-hub-signature-256": signature,
        },
        body,
      }).then(async (r) => (await r.text(), r.status));
    expect(await send()).toBe(200);
    expect(totalRows(app.store)).toBeGreaterThan(before);
    const after = rowCounts(app.store);
    expect(await send()).toBe(200);
    expect(rowCounts(app.store)).toEqual(after);
    expect(await app.store.tasks.list()).toHaveLength(1);
  });
});

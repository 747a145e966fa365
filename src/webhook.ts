import type { IncomingMessage } from "node:http";
import type { EmitterWebhookEvent } from "@octokit/webhooks";
import type { Logger } from "./log.js";
import type { IntakeCommit } from "./store/index.js";
import type { Store } from "./store/index.js";
import type { ScopedStore } from "./store/scoped-store.js";
import { isRetryableConflict, isStoreUnavailable } from "./store/unavailable.js";
import { BodyTooLargeError, readBody } from "./web/http.js";

/** What the server needs of the app: Probot's signature verification, and dispatch to the handlers (createApp). */
export interface WebhookReceiver {
  webhooks: { verify(payload: string, signature: string): Promise<boolean> };
  receive(event: EmitterWebhookEvent): Promise<void>;
  ready?(): Promise<unknown>;
}

/** The webhook endpoint's answer; `close` asks for `connection: close` (the body was not read). */
export type Outcome = {
  status: number;
  body: Record<string, unknown>;
  close?: boolean;
  headers?: Record<string, string>;
};

/** Seconds a client is asked to wait before redelivering while the database is unavailable. */
export const RETRY_AFTER_SECONDS = 10;

/**
 * The answer to a delivery whose handling threw: nothing of it was recorded, so a redelivery is
 * processed. 503 with Retry-After when the database is unavailable (it will be back), else 500.
 */
export function failureOutcome(e: unknown): Outcome {
  return isStoreUnavailable(e)
    ? {
        status: 503,
        body: { error: "the database is unavailable; redeliver once it is back" },
        headers: { "retry-after": String(RETRY_AFTER_SECONDS) },
      }
    : { status: 500, body: { error: "internal error; redeliver later" } };
}

/** A step either hands the next step its value or answers the request. */
type Step<T> = { ok: true; value: T } | { ok: false; out: Outcome };
const refuse = (status: number, error: string): { ok: false; out: Outcome } => ({
  ok: false,
  out: { status, body: { error } },
});

export const header = (req: IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

interface DeliveryHeaders {
  name: string;
  id: string;
  signature: string;
}

interface Delivery extends DeliveryHeaders {
  payload: object;
  action: string | null;
  repo: string | null;
}

export interface WebhookEndpointOptions {
  receiver: WebhookReceiver;
  store: Store;
  log: Logger;
  group: IntakeCommit;
  /**
   * Given, each delivery is one transaction of the store (PostgreSQL): its record first, then its
   * handlers, whose store is `scope.store`; `group` is then only counted. Otherwise the
   * deliveries share the group commit (SQLite).
   */
  scope?: ScopedStore;
  limit: number;
}

/**
 * The webhook endpoint, in the order its checks run: the headers (before a byte of the body is
 * read), the body (size-capped) and its signature, the JSON payload, then the delivery handled
 * once (dedup by X-GitHub-Delivery, handlers, record, durable group commit).
 */
export function createWebhookEndpoint(
  o: WebhookEndpointOptions,
): (req: IncomingMessage) => Promise<Outcome> {
  const once = handleOnce(o);
  return async (req) => {
    const headers = checkHeaders(req, o.log);
    if (!headers.ok) return headers.out;
    const text = await readSignedBody(req, headers.value, o);
    if (!text.ok) return text.out;
    const delivery = parseDelivery(headers.value, text.value);
    if (!delivery.ok) return delivery.out;
    return once(delivery.value);
  };
}

/**
 * Refused on the headers alone, before a byte of the body is read (nor buffered): an unsigned or
 * malformed request costs no memory and cannot hold the connection.
 */
function checkHeaders(req: IncomingMessage, log: Logger): Step<DeliveryHeaders> {
  const name = header(req, "x-github-event");
  const id = header(req, "x-github-delivery");
  const signature = header(req, "x-hub-signature-256");
  const missing = [
    !name && "X-GitHub-Event",
    !id && "X-GitHub-Delivery",
    !signature && "X-Hub-Signature-256",
  ].filter(Boolean);
  if (missing.length) return refuse(400, `missing header ${missing.join(", ")}`);
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(name!) || id!.length > 200) {
    return refuse(400, "malformed X-GitHub-Event or X-GitHub-Delivery");
  }
  if (!/^sha256=[0-9a-f]{64}$/i.test(signature!)) {
    log.warn({ delivery: id, event: name }, "webhook signature is not sha256=<hex>; ignored");
    return refuse(401, "X-Hub-Signature-256 must be sha256=<64 hex digits>");
  }
  return { ok: true, value: { name: name!, id: id!, signature: signature! } };
}

/** The body, read up to the cap (413 past it, not buffered), and verified against WEBHOOK_SECRET. */
async function readSignedBody(
  req: IncomingMessage,
  h: DeliveryHeaders,
  o: Pick<WebhookEndpointOptions, "receiver" | "log" | "limit">,
): Promise<Step<string>> {
  let body: Buffer;
  try {
    body = await readBody(req, o.limit);
  } catch (e) {
    if (e instanceof BodyTooLargeError)
      return refuse(413, `payload over GitHub's ${o.limit} byte cap`);
    throw e;
  }
  const text = body.toString("utf8");
  let verified = false;
  try {
    verified = await o.receiver.webhooks.verify(text, h.signature);
  } catch {
    verified = false;
  }
  if (!verified) {
    o.log.warn(
      { delivery: h.id, event: h.name },
      "webhook signature does not match WEBHOOK_SECRET; ignored",
    );
    return refuse(401, "signature does not match");
  }
  return { ok: true, value: text };
}

/** A JSON object is required (400 otherwise); its action and repository are kept for the record. */
function parseDelivery(h: DeliveryHeaders, text: string): Step<Delivery> {
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch {
    return refuse(400, "body is not JSON");
  }
  if (payload === null || typeof payload !== "object" || Array.isArray(payload)) {
    return refuse(400, "body is not a JSON object");
  }
  const p = payload as { action?: unknown; repository?: { full_name?: unknown } };
  const action = typeof p.action === "string" ? p.action : null;
  const repo = typeof p.repository?.full_name === "string" ? p.repository.full_name : null;
  return { ok: true, value: { ...h, payload, action, repo } };
}

/**
 * A delivery handled once: a replay racing the original gets the original's answer, one whose
 * record is committed is a duplicate; otherwise the handlers run inside the group commit, the
 * record is written right after them, and the answer waits for the durable COMMIT. With a
 * `scope` (PostgreSQL), the delivery is one transaction instead (see inTransaction).
 */
function handleOnce(o: WebhookEndpointOptions): (d: Delivery) => Promise<Outcome> {
  /** Deliveries being handled now: a concurrent replay of one of them is a duplicate. */
  const inFlight = new Map<string, Promise<Outcome>>();
  const scoped = o.scope ? inTransaction(o, o.scope) : undefined;
  return async (d) => {
    const { id, name, action, repo, payload } = d;
    const running = inFlight.get(id);
    if (running) {
      // A replay racing the original: answer what the original gets (a 500 stays a 500).
      const first = await running.catch(failureOutcome);
      return { ...first, body: { ...first.body, duplicate: true } };
    }
    const work = (async (): Promise<Outcome> => {
      if (scoped) return scoped(d);
      o.log.debug({ delivery: id, event: name, action }, "webhook received");
      // A delivery with a committed record was handled before (a redelivery): nothing to do.
      // (A replay of one still in flight was answered above, from `inFlight`.)
      if (await o.store.deliveries.has(id)) {
        o.log.info({ delivery: id, event: name }, "duplicate delivery ignored");
        return { status: 200, body: { ok: true, duplicate: true } };
      }
      o.group.join();
      try {
        await o.receiver.receive({ id, name, payload } as EmitterWebhookEvent);
        // The record is written here, in the same synchronous block as the handlers' last write
        // (their promise resolved without yielding to the event loop since), so a group COMMIT
        // can never hold this record without everything the delivery wrote: a crash before the
        // commit loses both, and GitHub's redelivery (no record) is processed again.
        if (!(await o.store.deliveries.record({ id, event: name, action, repo })))
          o.log.warn({ delivery: id, event: name }, "delivery recorded twice; handled again");
      } catch (e) {
        o.group.leave(); // nothing recorded: a redelivery is processed
        throw e;
      }
      // Answer only once the handlers' writes and the delivery record are committed.
      await o.group.commit();
      return { status: 200, body: { ok: true } };
    })();
    inFlight.set(id, work);
    try {
      return await work;
    } finally {
      inFlight.delete(id);
    }
  };
}

/** Attempts of one delivery when PostgreSQL ends its transaction to resolve a deadlock. */
const CONFLICT_ATTEMPTS = 3;

/**
 * A delivery as one transaction (PostgreSQL, replicas on one database): the delivery record is
 * INSERTed first (ON CONFLICT DO NOTHING), so a replica handling the same delivery id at the
 * same time waits on that row until the first one commits, then sees the conflict and answers
 * it as a duplicate (rolled back, nothing done twice); then the handlers run, their store calls
 * inside the transaction; the answer waits for the COMMIT (synchronous_commit=on). A handler
 * failure rolls everything back, the record included, so a redelivery is processed again.
 */
function inTransaction(
  o: WebhookEndpointOptions,
  scope: ScopedStore,
): (d: Delivery) => Promise<Outcome> {
  return async ({ id, name, action, repo, payload }) => {
    o.log.debug({ delivery: id, event: name, action }, "webhook received");
    for (let attempt = 1; ; attempt++) {
      try {
        const recorded = await scope.tx(async (t) => {
          if (!(await t.deliveries.record({ id, event: name, action, repo }))) return false;
          await o.receiver.receive({ id, name, payload } as EmitterWebhookEvent);
          return true;
        });
        if (!recorded) {
          o.log.info({ delivery: id, event: name }, "duplicate delivery ignored");
          return { status: 200, body: { ok: true, duplicate: true } };
        }
        await o.group.commit();
        return { status: 200, body: { ok: true } };
      } catch (e) {
        if (attempt >= CONFLICT_ATTEMPTS || !isRetryableConflict(e)) throw e;
        o.log.warn(
          { delivery: id, event: name, attempt, err: e },
          "delivery rolled back by a conflict with a concurrent one; handling it again",
        );
      }
    }
  };
}

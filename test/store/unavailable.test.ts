import { describe, expect, it } from "vitest";
import { storeError } from "../../src/store/postgres/pg-exec.js";
import { StoreUnavailableError } from "../../src/store/unavailable.js";
import { failureOutcome } from "../../src/webhook.js";

describe("a database that is not there", () => {
  const pg = (code: string, message = "server error") =>
    Object.assign(new Error(message), { code });
  it.each([
    [
      "57P01 admin shutdown (a restart)",
      pg("57P01", "terminating connection due to administrator command"),
    ],
    ["57P02 crash shutdown", pg("57P02")],
    ["57P03 starting up", pg("57P03", "the database system is starting up")],
    ["08006 connection failure", pg("08006")],
    ["ECONNREFUSED", pg("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:5432")],
    ["ECONNRESET", pg("ECONNRESET", "read ECONNRESET")],
    ["a dropped connection", new Error("Connection terminated unexpectedly")],
    ["the pool's connect timeout", new Error("timeout exceeded when trying to connect")],
    ["a refused connect to every address", new AggregateError([pg("ECONNREFUSED")], "")],
  ])("%s: the webhook is answered 503 with Retry-After", (_, e) => {
    const wrapped = storeError(e);
    expect(wrapped).toBeInstanceOf(StoreUnavailableError);
    const out = failureOutcome(new Error("handler failed", { cause: wrapped }));
    expect(out.status).toBe(503);
    expect(out.headers?.["retry-after"]).toMatch(/^\d+$/);
  });

  it.each([
    ["a unique violation", pg("23505", "duplicate key value")],
    ["a syntax error", pg("42601")],
    ["a bug", new TypeError("x is undefined")],
  ])("%s stays a 500", (_, e) => {
    expect(storeError(e)).not.toBeInstanceOf(StoreUnavailableError);
    expect(failureOutcome(storeError(e)).status).toBe(500);
  });
});

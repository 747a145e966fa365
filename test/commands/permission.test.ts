import nock from "nock";
import { describe, expect, it } from "vitest";
import { checkPermission, lookupPermission, meets } from "../../src/commands/permission.js";
import { testOctokit } from "../helpers/context.js";

const ref = { owner: "octo", repo: "demo" };
const answer = (status: number, body: object) =>
  nock("https://api.github.com")
    .get("/repos/octo/demo/collaborators/alice/permission")
    .reply(status, body);

describe("commenter permission", () => {
  it("orders read < triage < write < maintain < admin", () => {
    expect(meets("admin", "write")).toBe(true);
    expect(meets("maintain", "write")).toBe(true);
    expect(meets("triage", "write")).toBe(false);
    expect(meets("none", "read")).toBe(false);
    expect(meets("triage", "triage")).toBe(true);
  });

  it("reads triage and maintain from role_name, and falls back to permission for custom roles", async () => {
    answer(200, { permission: "read", role_name: "triage" });
    expect(await lookupPermission(testOctokit(), ref, "alice")).toEqual({
      ok: true,
      level: "triage",
    });
    answer(200, { permission: "write", role_name: "maintain" });
    expect(await lookupPermission(testOctokit(), ref, "alice")).toEqual({
      ok: true,
      level: "maintain",
    });
    answer(200, { permission: "write", role_name: "release-manager" });
    expect(await lookupPermission(testOctokit(), ref, "alice")).toEqual({
      ok: true,
      level: "write",
    });
    answer(200, { permission: "admin" });
    expect(await lookupPermission(testOctokit(), ref, "alice")).toEqual({
      ok: true,
      level: "admin",
    });
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("a non-collaborator (404) has no permission; a failure is never an allowance", async () => {
    answer(404, { message: "Not Found" });
    expect(await checkPermission(testOctokit(), ref, "alice", "write")).toEqual({
      allowed: false,
      reason: expect.stringContaining("you have no permission on this repository"),
    });
    answer(502, { message: "Bad Gateway" });
    expect(await checkPermission(testOctokit(), ref, "alice", "read")).toEqual({
      allowed: false,
      reason: expect.stringContaining("GitHub did not answer the permission check (HTTP 502)"),
    });
    answer(200, { unexpected: true });
    expect(await checkPermission(testOctokit(), ref, "alice", "read")).toMatchObject({
      allowed: false,
    });
    expect(nock.pendingMocks()).toEqual([]);
  });
});

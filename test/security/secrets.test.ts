import nock from "nock";
import { afterEach, describe, expect, it } from "vitest";
import {
  ADMIN_TOKEN,
  API,
  LLM,
  REPO,
  nockConfig,
  nockNewCheckRun,
  nockProjectContext,
  nockRepoHead,
  nockToken,
  startE2E,
} from "../e2e/harness.js";
import type { E2E } from "../e2e/harness.js";
import { issuesEvent } from "../helpers/payloads.js";

const SHA = "c0ffee0000000000000000000000000000000003";
/** The secrets of the harness's app: its LLM key, the installation token, the admin token. */
const LLM_KEY = "sk-e2e";
const GITHUB_TOKEN = "ghs_e2e_installation_token";
const LINEAR_KEY = "lin_api_0123456789abcdefghijklmnopqrstuv";
const SECRETS = [LLM_KEY, GITHUB_TOKEN, ADMIN_TOKEN, LINEAR_KEY];

let app: E2E | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

const leaks = (text: string): string[] => SECRETS.filter((s) => text.includes(s));

describe("secrets never appear in logs, check runs, comments or the dashboard API", () => {
  it("a provider error that quotes every secret is reported without them", async () => {
    // Injects: the LLM provider answering 400 with a message quoting the API key, the
    // installation token, the admin token and a Linear key. Leaked: 0 in any output.
    app = await startE2E({ processors: (all) => all.filter((p) => p.type !== "fix") });
    nockToken();
    nockConfig();
    expect((await app.deliver("issues", issuesEvent({ action: "labeled" }))).status).toBe(200);
    nockRepoHead(SHA);
    nockProjectContext(SHA);
    const quoted = `Incorrect API key provided: ${LLM_KEY}. (seen with Authorization: Bearer ${GITHUB_TOKEN}, x-admin ${ADMIN_TOKEN}, linear ${LINEAR_KEY})`;
    nock(LLM)
      .post("/v1/chat/completions")
      .reply(400, {
        error: { message: quoted, type: "invalid_request_error", code: "bad_request" },
      });
    const check = nockNewCheckRun("bg-agent/analysis", SHA);
    const comments: string[] = [];
    nock(API)
      .persist()
      .post(/\/repos\/octo\/demo\/issues\/\d+\/comments/, (b: { body: string }) => {
        comments.push(b.body);
        return true;
      })
      .reply(201, { id: 1, html_url: "https://github.com/octo/demo/issues/3#c1" });
    await app.pass();
    nock.cleanAll();

    const logs = JSON.stringify(app.log.lines);
    expect(logs).toContain("Incorrect API key provided"); // the error was logged…
    expect(leaks(logs)).toEqual([]); // …without the secrets
    expect(logs).toContain("[redacted]");
    const checks = JSON.stringify(check.bodies);
    expect(checks).toContain("Incorrect API key provided");
    expect(leaks(checks)).toEqual([]);
    expect(leaks(comments.join("\n"))).toEqual([]);
    for (const path of [
      "/bg/api/status",
      `/bg/api/tasks?repo=${REPO}`,
      `/bg/api/runs?repo=${REPO}`,
      "/bg/api/audit",
    ]) {
      const r = await app.admin(path);
      expect(r.status).toBe(200);
      expect(leaks(JSON.stringify(r.body))).toEqual([]);
      if (path.startsWith("/bg/api/tasks")) expect(JSON.stringify(r.body)).toContain("[redacted]");
    }
    expect(app.unmatched).toEqual([]);
  });
});

describe("redaction", () => {
  it("a real pino logger behind redactingLogger writes no registered or token-shaped secret", async () => {
    // Injects: secrets in a message, a field and an error's message. Leaked: 0.
    const { default: pino } = await import("pino");
    const { redactingLogger } = await import("../../src/log.js");
    const { registerSecret } = await import("../../src/util/secrets.js");
    registerSecret("custom-admin-secret-42");
    let out = "";
    const stream = { write: (s: string) => void (out += s) };
    const log = redactingLogger(pino({ level: "debug" }, stream));
    const err = new Error(`bad token ghp_${"a".repeat(36)} and custom-admin-secret-42`);
    log.error({ err, header: `Bearer ${"x".repeat(40)}` }, `failed with ${LINEAR_KEY}`);
    log.child({ repo: "octo/demo" }).warn("sk-proj-abcdefghijklmnop1234 rejected");
    expect(out).toContain("[redacted]");
    expect(out).not.toMatch(/ghp_a|custom-admin-secret-42|lin_api_|xxxxxxxx|sk-proj-/);
    expect(out).toContain("octo/demo");
  });
});

describe("job summaries", () => {
  it("the Action's failure summary shows the error without the token it quotes", async () => {
    // Injects: an error quoting a GitHub token and the LLM key. Leaked into the summary: 0.
    const { mkdtempSync, readFileSync, writeFileSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { writeFailureSummary } = await import("../../action/src/summary.js");
    const { registerSecret } = await import("../../src/util/secrets.js");
    const file = join(mkdtempSync(join(tmpdir(), "bg-sum-")), "summary.md");
    writeFileSync(file, "");
    const before = process.env.GITHUB_STEP_SUMMARY;
    process.env.GITHUB_STEP_SUMMARY = file;
    try {
      registerSecret("llm-key-Zq81xv");
      await writeFailureSummary(
        `GitHub answered 401 for token ghs_${"Q".repeat(36)}; the LLM said llm-key-Zq81xv is wrong`,
      );
    } finally {
      if (before === undefined) delete process.env.GITHUB_STEP_SUMMARY;
      else process.env.GITHUB_STEP_SUMMARY = before;
    }
    const written = readFileSync(file, "utf8");
    expect(written).toContain("GitHub answered 401 for token [redacted]");
    expect(written).not.toMatch(/ghs_Q|llm-key-Zq81xv/);
  });
});

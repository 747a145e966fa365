import nock from "nock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { dashboardOAuth, readEnv } from "../../src/env.js";
import { memoryLogger } from "../../src/log.js";
import type { Store } from "../../src/store/index.js";
import type { DashboardOAuth } from "../../src/web/routes.js";
import { memoryStore } from "../helpers/store.js";
import type { Served } from "./serve.js";
import { seed, serveWeb, TOKEN } from "./serve.js";

const NOW = Date.parse("2026-11-22T12:00:00Z");
const CLIENT_ID = "Iv1.0123456789abcdef";
const CLIENT_SECRET = "client-secret-0123456789abcdef0123456789";
const SESSION_SECRET = "session-secret-0123456789abcdef0123456789";
const USER_TOKEN = "ghu_UserTokenThatMustNeverLeak0123456789";
const CODE = "code0123456789abcdef";

const OAUTH: DashboardOAuth = {
  clientId: CLIENT_ID,
  clientSecret: CLIENT_SECRET,
  sessionSecret: SESSION_SECRET,
  githubUrl: "https://github.com",
  apiUrl: "https://api.github.com",
};

type Log = { level: string; msg: string; obj?: object };

/** The `name=value` of each Set-Cookie, and the full header by name. */
function setCookies(res: Response): Map<string, string> {
  const out = new Map<string, string>();
  for (const c of res.headers.getSetCookie()) out.set(c.slice(0, c.indexOf("=")), c);
  return out;
}
const pair = (setCookie: string | undefined): string => (setCookie ?? "").split(";")[0]!;

/** GitHub's side of a sign-in: the code exchange, /user and /user/installations. */
function github(o: {
  login?: string;
  installations?: { id: number; account: string }[];
  host?: string;
  api?: string;
  redirectUri?: string;
}) {
  const web = nock(o.host ?? "https://github.com", { reqheaders: { accept: "application/json" } })
    .post("/login/oauth/access_token", (b: Record<string, string>) => {
      expect(b).toMatchObject({ client_id: CLIENT_ID, client_secret: CLIENT_SECRET, code: CODE });
      if (o.redirectUri) expect(b.redirect_uri).toBe(o.redirectUri);
      return true;
    })
    .reply(200, { access_token: USER_TOKEN, token_type: "bearer", scope: "" });
  const api = nock(o.api ?? "https://api.github.com", {
    reqheaders: { authorization: `Bearer ${USER_TOKEN}` },
  })
    .get("/user")
    .reply(200, { login: o.login ?? "octocat", id: 583231 })
    .get("/user/installations")
    .query({ per_page: "100", page: "1" })
    .reply(200, {
      total_count: (o.installations ?? []).length,
      installations: (o.installations ?? []).map((i) => ({
        id: i.id,
        account: { login: i.account },
      })),
    });
  return { web, api };
}

describe("dashboard sign-in with GitHub", () => {
  let store: Store;
  let served: Served;
  let clock = NOW;
  const logs: Log[] = [];

  const get = (path: string, headers: Record<string, string> = {}) =>
    fetch(served.url + path, { headers, redirect: "manual" });
  const post = (path: string, headers: Record<string, string>, body: unknown = {}) =>
    fetch(served.url + path, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
      redirect: "manual",
    });

  /** GET /bg/login: GitHub's authorize URL and this browser's state cookie. */
  const startLogin = async () => {
    const res = await get("/bg/login");
    expect(res.status).toBe(302);
    const to = new URL(res.headers.get("location")!);
    const stateCookie = setCookies(res).get("bg_oauth_state");
    expect(stateCookie).toBeDefined();
    return { res, to, state: to.searchParams.get("state")!, cookie: pair(stateCookie) };
  };

  /** A full sign-in; returns the session cookie (`bg_session=...`). */
  const signIn = async (login = "octocat"): Promise<string> => {
    github({ login, installations: [{ id: 1, account: "acme" }] });
    const { state, cookie } = await startLogin();
    const res = await get(`/bg/oauth/callback?code=${CODE}&state=${state}`, { cookie });
    expect(res.status).toBe(303);
    return pair(setCookies(res).get("bg_session"));
  };

  beforeEach(async () => {
    store = await memoryStore();
    await seed(store, NOW);
    clock = NOW;
    logs.length = 0;
    served = await serveWeb({
      store,
      log: memoryLogger(logs),
      now: () => clock,
      oauth: OAUTH,
      wake: async () => ({ repos: 0 }),
    });
  });
  afterEach(async () => {
    await served.close();
    await store.close();
  });

  it("signs a member in: GitHub with a state, back to /bg with a session cookie, then the API answers", async () => {
    const { to, state, cookie, res: login } = await startLogin();
    expect(`${to.origin}${to.pathname}`).toBe("https://github.com/login/oauth/authorize");
    expect(to.searchParams.get("client_id")).toBe(CLIENT_ID);
    expect(to.searchParams.get("redirect_uri")).toBe(`${served.url}/bg/oauth/callback`);
    expect(to.searchParams.get("allow_signup")).toBe("false");
    expect(to.searchParams.has("scope")).toBe(false); // a GitHub App's user token has no scopes
    expect(state).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const stateCookie = setCookies(login).get("bg_oauth_state")!;
    expect(stateCookie).toMatch(/; Path=\/bg\/oauth; Max-Age=600; HttpOnly; SameSite=Lax$/);
    expect(stateCookie).not.toContain(state); // signed JSON, not the bare value

    // Each visit gets its own state.
    expect((await startLogin()).state).not.toBe(state);

    const gh = github({ login: "octocat", installations: [{ id: 1, account: "acme" }] });
    const cb = await get(`/bg/oauth/callback?code=${CODE}&state=${state}`, { cookie });
    expect(cb.status).toBe(303);
    expect(cb.headers.get("location")).toBe("/bg"); // no query: no code, no token in the URL
    const cookies = setCookies(cb);
    const session = cookies.get("bg_session")!;
    // Plain http on 127.0.0.1 (local development): no Secure flag; 8 hours by default.
    expect(session).toMatch(/^bg_session=[^;]+; Path=\/bg; Max-Age=28800; HttpOnly; SameSite=Lax$/);
    expect(cookies.get("bg_oauth_state")).toMatch(/Max-Age=0/);
    // A signed JWT: who (login, GitHub user id), a session id, issued-at and expiry in seconds.
    const value = pair(session).slice("bg_session=".length);
    const [header, payload] = value
      .split(".")
      .slice(0, 2)
      .map((p) => JSON.parse(Buffer.from(p, "base64url").toString()) as Record<string, unknown>);
    expect(header).toEqual({ alg: "HS256", typ: "JWT" });
    expect(payload).toMatchObject({
      login: "octocat",
      sub: "583231",
      iat: NOW / 1000,
      exp: NOW / 1000 + 8 * 3600,
    });
    expect(payload!.jti).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(value).not.toContain(USER_TOKEN);
    expect(JSON.stringify(payload)).not.toContain(USER_TOKEN);
    expect(gh.web.isDone() && gh.api.isDone()).toBe(true);

    const status = await get("/bg/api/status", { cookie: pair(session) });
    expect(status.status).toBe(200);
    expect(((await status.json()) as { repos: unknown[] }).repos.length).toBeGreaterThan(0);
    const me = (await (await get("/bg/api/session", { cookie: pair(session) })).json()) as {
      via: string;
      login: string;
      csrf: string;
      expiresAt: number;
    };
    expect(me).toMatchObject({ via: "session", login: "octocat", expiresAt: NOW + 8 * 3_600_000 });
    expect(me.csrf).toMatch(/^[A-Za-z0-9_-]{40,}$/);

    // Pause with the session and its CSRF value: the audit and the pause name the login.
    const paused = await post(
      "/bg/api/pause",
      { cookie: pair(session), "x-bg-csrf": me.csrf },
      { repo: "acme/api", reason: "deploy" },
    );
    expect(paused.status).toBe(200);
    expect(await paused.json()).toMatchObject({ paused: true, by: "octocat" });
    expect(await store.activity.manualPause("acme/api", NOW)).toMatchObject({
      pausedBy: "octocat",
    });
    const resumed = await post(
      "/bg/api/resume",
      { cookie: pair(session), "x-bg-csrf": me.csrf },
      { repo: "acme/api" },
    );
    expect(resumed.status).toBe(200);
    const audit = await store.audit.list({ limit: 10 });
    expect(audit.map((e) => [e.actor, e.command, e.result])).toEqual([
      ["octocat", "resume", "ok"],
      ["octocat", "pause", "ok"],
      ["octocat", "sign-in", "ok"],
    ]);

    // The user token is nowhere: not in the log, not in a cookie, not in the audit.
    expect(JSON.stringify(logs)).not.toContain(USER_TOKEN);
    expect(JSON.stringify(logs)).not.toContain(CLIENT_SECRET);
    expect(JSON.stringify(await store.audit.list({ limit: 50 }))).not.toContain(USER_TOKEN);
    expect(logs.some((l) => l.msg === "signed in to the dashboard with GitHub")).toBe(true);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("refuses a callback with a missing, wrong or foreign state (400, no session, GitHub not asked)", async () => {
    const { state, cookie } = await startLogin();
    const other = await startLogin();
    const cases: [string, Record<string, string>][] = [
      [`/bg/oauth/callback?code=${CODE}`, { cookie }],
      [`/bg/oauth/callback?code=${CODE}&state=`, { cookie }],
      [`/bg/oauth/callback?code=${CODE}&state=${state}x`, { cookie }],
      // Another browser's state (a link someone sent you), or no state cookie at all.
      [`/bg/oauth/callback?code=${CODE}&state=${other.state}`, { cookie }],
      [`/bg/oauth/callback?code=${CODE}&state=${state}`, {}],
      // A state cookie whose signature was changed.
      [`/bg/oauth/callback?code=${CODE}&state=${state}`, { cookie: `${cookie.slice(0, -2)}xx` }],
    ];
    for (const [path, headers] of cases) {
      const res = await get(path, headers);
      expect(res.status, path).toBe(400);
      expect(setCookies(res).has("bg_session"), path).toBe(false);
      expect(await res.text()).toContain("This sign-in link is not valid here");
    }
    // An expired state (over 10 minutes).
    clock = NOW + 11 * 60_000;
    const late = await get(`/bg/oauth/callback?code=${CODE}&state=${state}`, { cookie });
    expect(late.status).toBe(400);
    expect(setCookies(late).has("bg_session")).toBe(false);
    // Net connect is off: had GitHub been asked, the answer would have been a 502.
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("turns away a GitHub user with no access to an installation bg-agent knows (403, nothing set)", async () => {
    github({ login: "mallory", installations: [{ id: 999, account: "elsewhere" }] });
    const { state, cookie } = await startLogin();
    const res = await get(`/bg/oauth/callback?code=${CODE}&state=${state}`, { cookie });
    expect(res.status).toBe(403);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const html = await res.text();
    expect(html).toContain("Not a member of an installing organisation");
    expect(html).toContain("@mallory");
    expect(setCookies(res).has("bg_session")).toBe(false);
    expect((await store.audit.list({ limit: 1 }))[0]).toMatchObject({
      actor: "mallory",
      command: "sign-in",
      result: expect.stringMatching(/^denied/) as unknown,
    });
    expect((await get("/bg/api/status")).status).toBe(401);
    expect(JSON.stringify(logs)).not.toContain(USER_TOKEN);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("escapes what GitHub says on the refusal page", async () => {
    github({ login: "<b>x</b>", installations: [] });
    const { state, cookie } = await startLogin();
    const res = await get(`/bg/oauth/callback?code=${CODE}&state=${state}`, { cookie });
    expect(res.status).toBe(403);
    const html = await res.text();
    expect(html).toContain("@&lt;b&gt;x&lt;/b&gt;");
    expect(html).not.toContain("<b>x</b>");
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("finds a shared installation on a later page of /user/installations", async () => {
    nock("https://github.com")
      .post("/login/oauth/access_token")
      .reply(200, { access_token: USER_TOKEN, token_type: "bearer", scope: "" });
    const many = Array.from({ length: 100 }, (_, i) => ({ id: 1000 + i, account: null }));
    nock("https://api.github.com")
      .get("/user")
      .reply(200, { login: "octocat", id: 1 })
      .get("/user/installations")
      .query({ per_page: "100", page: "1" })
      .reply(200, { total_count: 101, installations: many })
      .get("/user/installations")
      .query({ per_page: "100", page: "2" })
      .reply(200, { total_count: 101, installations: [{ id: 1, account: { login: "acme" } }] });
    const { state, cookie } = await startLogin();
    const res = await get(`/bg/oauth/callback?code=${CODE}&state=${state}`, { cookie });
    expect(res.status).toBe(303);
    expect(setCookies(res).has("bg_session")).toBe(true);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("says why when GitHub refuses the code or the person cancels, and sets no session", async () => {
    nock("https://github.com")
      .post("/login/oauth/access_token")
      .reply(200, { error: "bad_verification_code", error_description: "The code is wrong." });
    const a = await startLogin();
    const used = await get(`/bg/oauth/callback?code=${CODE}&state=${a.state}`, {
      cookie: a.cookie,
    });
    expect(used.status).toBe(400);
    expect(await used.text()).toContain("already used or has expired");
    expect(setCookies(used).has("bg_session")).toBe(false);

    const b = await startLogin();
    const cancelled = await get(
      `/bg/oauth/callback?error=access_denied&error_description=The+user+has+denied+your+application+access.&state=${b.state}`,
      { cookie: b.cookie },
    );
    expect(cancelled.status).toBe(400);
    expect(await cancelled.text()).toContain("The user has denied your application access.");
    expect(setCookies(cancelled).has("bg_session")).toBe(false);

    nock("https://github.com").post("/login/oauth/access_token").reply(500, "oops");
    const c = await startLogin();
    const down = await get(`/bg/oauth/callback?code=${CODE}&state=${c.state}`, {
      cookie: c.cookie,
    });
    expect(down.status).toBe(502);
    expect(await down.text()).toContain("the code exchange answered 500");
    expect(setCookies(down).has("bg_session")).toBe(false);

    // GitHub unreachable: a network error, said as such.
    nock("https://github.com")
      .post("/login/oauth/access_token")
      .replyWithError(new Error("connect ECONNREFUSED"));
    const d = await startLogin();
    const unreachable = await get(`/bg/oauth/callback?code=${CODE}&state=${d.state}`, {
      cookie: d.cookie,
    });
    expect(unreachable.status).toBe(502);
    expect(await unreachable.text()).toContain("(network error)");
    expect(setCookies(unreachable).has("bg_session")).toBe(false);

    // bg-agent's OAuth settings are wrong: the page says what to check.
    nock("https://github.com").post("/login/oauth/access_token").reply(200, {
      error: "redirect_uri_mismatch",
      error_description: "The redirect_uri MUST match the registered callback URL.",
    });
    const e = await startLogin();
    const mismatch = await get(`/bg/oauth/callback?code=${CODE}&state=${e.state}`, {
      cookie: e.cookie,
    });
    expect(mismatch.status).toBe(400);
    expect(await mismatch.text()).toMatch(
      /redirect_uri_mismatch.*GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET and the GitHub App&#39;s callback URL/,
    );

    // The token is good but GitHub will not say who it belongs to.
    nock("https://github.com")
      .post("/login/oauth/access_token")
      .reply(200, { access_token: USER_TOKEN, token_type: "bearer", scope: "" });
    nock("https://api.github.com").get("/user").reply(401, { message: "Bad credentials" });
    const f = await startLogin();
    const who = await get(`/bg/oauth/callback?code=${CODE}&state=${f.state}`, {
      cookie: f.cookie,
    });
    expect(who.status).toBe(502);
    expect(await who.text()).toContain("GET /user answered 401");
    expect(setCookies(who).has("bg_session")).toBe(false);
    expect(JSON.stringify(logs)).not.toContain(USER_TOKEN);
    expect(JSON.stringify(logs)).not.toContain(CLIENT_SECRET);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("answers 401 to a tampered, forged, expired or signed-out session cookie", async () => {
    const session = await signIn();
    expect((await get("/bg/api/status", { cookie: session })).status).toBe(200);
    const [head, body, sig] = session.slice("bg_session=".length).split(".") as [
      string,
      string,
      string,
    ];
    const claims = JSON.parse(Buffer.from(body, "base64url").toString()) as Record<string, unknown>;
    const enc = (o: object): string => Buffer.from(JSON.stringify(o)).toString("base64url");
    // A character in the middle of the signature (the last one carries padding bits).
    const flipped = `${sig.slice(0, 10)}${sig[10] === "A" ? "B" : "A"}${sig.slice(11)}`;
    // A state JWT of this deployment, offered as a session.
    const { cookie: stateCookie } = await startLogin();

    const tampered = [
      // The payload changed (another login, another user id, a longer life), the signature kept.
      `bg_session=${head}.${enc({ ...claims, login: "admin" })}.${sig}`,
      `bg_session=${head}.${enc({ ...claims, sub: "1" })}.${sig}`,
      `bg_session=${head}.${enc({ ...claims, exp: Number(claims.exp) + 365 * 86_400 })}.${sig}`,
      `bg_session=${head}.${body}.${flipped}`,
      // Unsigned ("alg": "none"), or another algorithm named in the header.
      `bg_session=${enc({ alg: "none", typ: "JWT" })}.${body}.`,
      `bg_session=${enc({ alg: "HS512", typ: "JWT" })}.${body}.${sig}`,
      `bg_session=${head}.${body}`,
      `bg_session=${stateCookie.slice("bg_oauth_state=".length)}`,
      "bg_session=garbage",
      `bg_session=${"a".repeat(5000)}`,
    ];
    for (const cookie of tampered) {
      const res = await get("/bg/api/status", { cookie });
      expect(res.status, cookie).toBe(401);
      expect(((await res.json()) as { error: string }).error).toMatch(/sign in again/);
    }
    // Signed with another secret (another deployment): refused.
    const elsewhere = await serveWeb({
      store,
      log: memoryLogger(),
      now: () => clock,
      oauth: { ...OAUTH, sessionSecret: "another-secret-0123456789abcdef01234567" },
    });
    try {
      expect(
        (await fetch(`${elsewhere.url}/bg/api/status`, { headers: { cookie: session } })).status,
      ).toBe(401);
    } finally {
      await elsewhere.close();
    }

    // Expired after 8 hours.
    clock = NOW + 8 * 3_600_000 - 1;
    expect((await get("/bg/api/status", { cookie: session })).status).toBe(200);
    clock = NOW + 8 * 3_600_000;
    expect((await get("/bg/api/status", { cookie: session })).status).toBe(401);
    clock = NOW;

    // Signed out: the cookie is cleared, and the same cookie replayed is refused.
    const { csrf } = (await (await get("/bg/api/session", { cookie: session })).json()) as {
      csrf: string;
    };
    expect((await post("/bg/logout", { cookie: session })).status).toBe(403);
    const out = await post("/bg/logout", { cookie: session, "x-bg-csrf": csrf });
    expect(out.status).toBe(200);
    expect(setCookies(out).get("bg_session")).toMatch(/^bg_session=; Path=\/bg; Max-Age=0/);
    expect((await get("/bg/api/status", { cookie: session })).status).toBe(401);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("refuses a signed-out session on every app instance sharing the store, and after a restart", async () => {
    const replica = await serveWeb({ store, log: memoryLogger(), now: () => clock, oauth: OAUTH });
    const at = (s: Served, path: string, cookie: string) =>
      fetch(s.url + path, { headers: { cookie } });
    try {
      const session = await signIn();
      const kept = await signIn(); // the same person in another browser
      // Stateless while valid: a replica that never saw the sign-in accepts the cookie.
      expect((await at(replica, "/bg/api/status", session)).status).toBe(200);

      // Signing out on the replica...
      const { csrf } = (await (await at(replica, "/bg/api/session", session)).json()) as {
        csrf: string;
      };
      const out = await fetch(`${replica.url}/bg/logout`, {
        method: "POST",
        headers: { cookie: session, "x-bg-csrf": csrf },
      });
      expect(out.status).toBe(200);
      // ...ends the session here too, and on an instance started afterwards (a restart).
      expect((await get("/bg/api/status", { cookie: session })).status).toBe(401);
      expect((await at(replica, "/bg/api/status", session)).status).toBe(401);
      const restarted = await serveWeb({
        store,
        log: memoryLogger(),
        now: () => clock,
        oauth: OAUTH,
      });
      try {
        expect((await at(restarted, "/bg/api/status", session)).status).toBe(401);
        expect((await at(restarted, "/bg/metrics", session)).status).toBe(200); // open: no metrics token
        // Only that sign-in ended: the other browser's session still works everywhere.
        expect((await at(restarted, "/bg/api/status", kept)).status).toBe(200);
        expect((await get("/bg/api/status", { cookie: kept })).status).toBe(200);
      } finally {
        await restarted.close();
      }
    } finally {
      await replica.close();
    }
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("refuses state-changing calls made with a session but without the CSRF header (403, nothing changes)", async () => {
    const session = await signIn();
    const other = await signIn("hubot");
    const { csrf: otherCsrf } = (await (
      await get("/bg/api/session", { cookie: other })
    ).json()) as {
      csrf: string;
    };
    const sched = await store.schedules.create({
      repo: "acme/api",
      name: "digest",
      spec: { name: "digest", prompt: "p", every: "1d" },
      specHash: "d",
      origin: "config",
      status: "active",
      nextRunAt: NOW + 60_000,
      maxRuns: null,
    });
    const scheduleActions = ["run", "pause", "resume"].map(
      (a) => `/bg/api/schedules/${sched.id}/${a}`,
    );
    for (const path of ["/bg/api/pause", "/bg/api/resume", "/bg/api/wake", ...scheduleActions]) {
      const none = await post(path, { cookie: session });
      expect(none.status, path).toBe(403);
      expect(((await none.json()) as { error: string }).error).toMatch(/x-bg-csrf/);
      // Another session's value does not fit this one.
      expect((await post(path, { cookie: session, "x-bg-csrf": otherCsrf })).status).toBe(403);
    }
    expect(await store.activity.manualPause("*", NOW)).toBeNull();
    expect((await store.schedules.byId(sched.id))?.status).toBe("active");
    expect(await store.tasks.list({ repo: "acme/api", type: "prompt_task" })).toEqual([]);
    expect((await store.audit.list({ limit: 50 })).filter((e) => e.command !== "sign-in")).toEqual(
      [],
    );
    // Reads need no CSRF value.
    expect((await get("/bg/api/runs", { cookie: session })).status).toBe(200);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("keeps the admin token working as before; a bearer header decides alone", async () => {
    const session = await signIn();
    expect((await get("/bg/api/status", { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
    // A wrong bearer token is refused even with a good cookie.
    expect(
      (
        await get("/bg/api/status", {
          authorization: "Bearer wrong-token-xxxxxxxxxxxx",
          cookie: session,
        })
      ).status,
    ).toBe(401);
    // No CSRF header is needed with the admin token; the audit says "admin".
    const paused = await post("/bg/api/pause", { authorization: `Bearer ${TOKEN}` });
    expect(paused.status).toBe(200);
    expect((await store.audit.list({ limit: 1 }))[0]).toMatchObject({
      actor: "admin",
      command: "pause",
    });
    expect(
      await (await get("/bg/api/session", { authorization: `Bearer ${TOKEN}` })).json(),
    ).toEqual({ via: "token", login: "admin" });
    // Nobody signed in: 401 pointing at both ways in.
    const anon = await get("/bg/api/status");
    expect(anon.status).toBe(401);
    expect(((await anon.json()) as { error: string }).error).toMatch(/\/bg\/login.*admin token/);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("marks cookies Secure behind https, and builds the redirect URI from BG_PUBLIC_URL when set", async () => {
    const res = await get("/bg/login", { "x-forwarded-proto": "https" });
    expect(setCookies(res).get("bg_oauth_state")).toMatch(/; Secure$/);
    const pub = await serveWeb({
      store,
      log: memoryLogger(),
      oauth: { ...OAUTH, publicUrl: "https://bg.example.com/" },
    });
    try {
      const r = await fetch(`${pub.url}/bg/login`, { redirect: "manual" });
      const to = new URL(r.headers.get("location")!);
      expect(to.searchParams.get("redirect_uri")).toBe("https://bg.example.com/bg/oauth/callback");
      // BG_PUBLIC_URL is https: Secure even when the request reached us as plain http on loopback.
      expect(setCookies(r).get("bg_oauth_state")).toMatch(/; Secure$/);
      // Not on localhost over plain http: Secure, so browsers keep it only over https.
      const viaProxy = await fetch(`${pub.url}/bg/login`, {
        redirect: "manual",
        headers: { "x-forwarded-proto": "https" },
      });
      expect(setCookies(viaProxy).get("bg_oauth_state")).toContain("Secure");
    } finally {
      await pub.close();
    }
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("uses GitHub Enterprise Server's addresses when configured", async () => {
    const ghe = await serveWeb({
      store,
      log: memoryLogger(),
      oauth: {
        ...OAUTH,
        githubUrl: "https://ghe.example.com",
        apiUrl: "https://ghe.example.com/api/v3",
      },
    });
    try {
      github({
        host: "https://ghe.example.com",
        api: "https://ghe.example.com/api/v3",
        installations: [{ id: 1, account: "acme" }],
        redirectUri: `${ghe.url}/bg/oauth/callback`,
      });
      const login = await fetch(`${ghe.url}/bg/login`, { redirect: "manual" });
      const to = new URL(login.headers.get("location")!);
      expect(to.origin).toBe("https://ghe.example.com");
      const cb = await fetch(
        `${ghe.url}/bg/oauth/callback?code=${CODE}&state=${to.searchParams.get("state")}`,
        { redirect: "manual", headers: { cookie: pair(setCookies(login).get("bg_oauth_state")) } },
      );
      expect(cb.status).toBe(303);
    } finally {
      await ghe.close();
    }
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("offers 'Sign in with GitHub' on the page only when it is configured", async () => {
    const on = await (await get("/bg")).text();
    expect(on).toContain('data-github-sign-in="on"');
    expect(on).toMatch(
      /<a id="github-sign-in"[^>]*href="\/bg\/login"[^>]*>Sign in with GitHub<\/a>/,
    );
    expect(on).toContain('id="login-form"'); // the token form stays
    const plain = await serveWeb({ store, log: memoryLogger() });
    try {
      const off = await (await fetch(`${plain.url}/bg`)).text();
      expect(off).toContain('data-github-sign-in="off"');
      expect(off).not.toContain("Sign in with GitHub");
      expect((await fetch(`${plain.url}/bg/login`, { redirect: "manual" })).status).toBe(404);
    } finally {
      await plain.close();
    }
  });

  it("opens the API with GitHub sign-in alone (no admin token configured)", async () => {
    const only = await serveWeb({ store, log: memoryLogger(), adminToken: null, oauth: OAUTH });
    try {
      expect((await fetch(`${only.url}/bg/api/status`)).status).toBe(401);
      expect(
        (await fetch(`${only.url}/bg/api/status`, { headers: { authorization: "Bearer x" } }))
          .status,
      ).toBe(401);
    } finally {
      await only.close();
    }
  });
});

describe("dashboard sign-in settings from the environment", () => {
  const base = { GITHUB_CLIENT_ID: CLIENT_ID, GITHUB_CLIENT_SECRET: CLIENT_SECRET };

  it("is on only with BG_SESSION_SECRET and the app's client ID and secret", () => {
    // Probot's setup writes the client ID and secret: that alone does not turn sign-in on.
    expect(dashboardOAuth(readEnv(base), {})).toBeNull();
    expect(dashboardOAuth(readEnv({}), {})).toBeNull();
    expect(dashboardOAuth(readEnv({ ...base, BG_SESSION_SECRET: SESSION_SECRET }), {})).toEqual({
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      sessionSecret: SESSION_SECRET,
      sessionHours: 8,
      githubUrl: "https://github.com",
      apiUrl: "https://api.github.com",
    });
    expect(
      dashboardOAuth(
        readEnv({
          ...base,
          BG_SESSION_SECRET: SESSION_SECRET,
          BG_SESSION_HOURS: "12",
          BG_PUBLIC_URL: "https://bg.example.com",
        }),
        { GHE_HOST: "ghe.example.com", GHE_PROTOCOL: "http" },
      ),
    ).toMatchObject({
      sessionHours: 12,
      githubUrl: "http://ghe.example.com",
      apiUrl: "http://ghe.example.com/api/v3",
      publicUrl: "https://bg.example.com",
    });
  });

  it("stops start-up with a message naming what to fix", () => {
    expect(() => readEnv({ ...base, BG_SESSION_SECRET: "short" })).toThrow(
      /BG_SESSION_SECRET must be at least 32 characters/,
    );
    expect(() =>
      readEnv({ GITHUB_CLIENT_ID: CLIENT_ID, BG_SESSION_SECRET: SESSION_SECRET }),
    ).toThrow(/GITHUB_CLIENT_SECRET is not set/);
    expect(() => readEnv({ BG_SESSION_SECRET: SESSION_SECRET })).toThrow(
      /GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET are not set/,
    );
  });
});

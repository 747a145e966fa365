import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import type { Route } from "../../src/web/http.js";
import { GITHUB_OIDC_ISSUER } from "../../src/web/worker-api.js";

export interface TestServer {
  url: string;
  close(): Promise<void>;
}

/** Serves routes on 127.0.0.1 (a random port); 404 for anything they do not answer. */
export async function serveRoutes(routes: Route[]): Promise<TestServer> {
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      try {
        for (const r of routes) if (await r(req, res, url)) return;
        res.writeHead(404, { "content-type": "application/json" }).end('{"error":"not found"}');
      } catch (e) {
        res
          .writeHead(500, { "content-type": "application/json" })
          .end(JSON.stringify({ error: (e as Error).message }));
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The id the tests' stores give octo/demo (and a runner's token names in `repository_id`). */
export const DEMO_REPO_ID = 4711;

/**
 * The claims of a token from the run the app accepts as a worker: the configured workflow
 * (`.github/workflows/bg-agent.yml`) on the default branch (`main`), started by the schedule.
 * `over` replaces any of them (e.g. `{ ref: "refs/heads/evil" }`).
 */
export function workflowClaims(
  repository = "octo/demo",
  run_id = "100",
  over: Record<string, unknown> = {},
): Record<string, unknown> {
  const ref = "refs/heads/main";
  const workflow = `${repository}/.github/workflows/bg-agent.yml@${ref}`;
  return {
    repository,
    repository_id: String(repository === "octo/demo" ? DEMO_REPO_ID : DEMO_REPO_ID + 1),
    run_id,
    run_attempt: "1",
    ref,
    workflow_ref: workflow,
    job_workflow_ref: workflow,
    event_name: "schedule",
    actor: "octocat",
    ...over,
  };
}

export interface TestIssuer extends TestServer {
  jwksUrl: URL;
  /** What a runner's ACTIONS_ID_TOKEN_REQUEST_URL points at: answers `{ value: <token> }`. */
  tokenRequestUrl: string;
  sign(
    claims: Record<string, unknown>,
    o?: { audience?: string; expiresIn?: string; issuer?: string },
  ): Promise<string>;
  /** Claims the token endpoint puts in the tokens it issues (the runner's repository and run). */
  claims: Record<string, unknown>;
  /** The clock tokens are issued by (iat, exp), when set; real time otherwise. */
  now: (() => number) | undefined;
  /** How many tokens the token endpoint issued. */
  issued: number;
}

/**
 * A stand-in for GitHub's OIDC provider: an RS256 key pair, its JWKS served on 127.0.0.1, and a
 * token endpoint like the one core.getIDToken calls in a runner.
 */
export async function testIssuer(
  claims: Record<string, unknown> = workflowClaims(),
): Promise<TestIssuer> {
  const { publicKey, privateKey } = await generateKeyPair("RS256");
  const jwk = { ...(await exportJWK(publicKey)), kid: "test-key", alg: "RS256", use: "sig" };
  const state: { claims: Record<string, unknown>; now?: () => number; issued: number } = {
    claims,
    issued: 0,
  };
  const sign: TestIssuer["sign"] = (c, o = {}) => {
    const jwt = new SignJWT(c)
      .setProtectedHeader({ alg: "RS256", kid: "test-key" })
      .setIssuer(o.issuer ?? GITHUB_OIDC_ISSUER)
      .setAudience(o.audience ?? "bg-agent");
    if (!state.now)
      return jwt
        .setIssuedAt()
        .setExpirationTime(o.expiresIn ?? "5m")
        .sign(privateKey);
    // On the test's clock: iat now, exp five minutes later (GitHub's tokens are as short).
    const iat = Math.floor(state.now() / 1000);
    return jwt
      .setIssuedAt(iat)
      .setExpirationTime(iat + 300)
      .sign(privateKey);
  };
  const route: Route = async (req, res, url) => {
    if (url.pathname === "/.well-known/jwks") {
      res
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ keys: [jwk] }));
      return true;
    }
    if (url.pathname === "/token") {
      if (req.headers.authorization !== "Bearer request-token") {
        res.writeHead(401).end("{}");
        return true;
      }
      state.issued++;
      const value = await sign(state.claims, {
        audience: url.searchParams.get("audience") ?? "none",
      });
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ value }));
      return true;
    }
    return false;
  };
  const server = await serveRoutes([route]);
  return {
    ...server,
    jwksUrl: new URL(`${server.url}/.well-known/jwks`),
    tokenRequestUrl: `${server.url}/token?api-version=2.0`,
    sign,
    get claims() {
      return state.claims;
    },
    set claims(c) {
      state.claims = c;
    },
    get now() {
      return state.now;
    },
    set now(f) {
      if (f) state.now = f;
      else delete state.now;
    },
    get issued() {
      return state.issued;
    },
  };
}

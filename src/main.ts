import { readFileSync } from "node:fs";
import { createProbot, run } from "probot";
import type { Probot } from "probot";
import { createApp } from "./app.js";
import { dashboardOAuth, githubUrls, readEnv } from "./env.js";
import type { GitHubClient } from "./integrations/github.js";
import { BgProbotOctokit } from "./integrations/probot-octokit.js";
import type { Logger } from "./log.js";
import { createProcessors } from "./processors/index.js";
import { createServer } from "./server.js";
import { openStore } from "./store/index.js";
import { createWebRoutes } from "./web/routes.js";
import { createWorkerApiRoutes } from "./web/worker-api.js";
import { createAppWorkerEnv } from "./worker/app-env.js";
import { loopOptionsFromEnv, startWorkerLoop } from "./worker/loop.js";
import { startRetentionLoop } from "./worker/retention.js";
import type { WorkerLoop } from "./worker/loop.js";

const version = (): string => {
  try {
    return (
      JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
        version: string;
      }
    ).version;
  } catch {
    return "unknown";
  }
};

/** The one line said when GitHub cannot be reached at start-up (no stack trace). */
function unreachableMessage(e: unknown): string {
  const err = e as { status?: number; message?: string; cause?: { code?: string } };
  const why = err.status
    ? `HTTP ${err.status}: ${err.message ?? ""}`.trim()
    : (err.cause?.code ?? err.message ?? String(e));
  return `GitHub (${githubUrls().api}) cannot be reached to read the app's identity (${why}); webhooks are still received. Check the network, GHE_HOST, APP_ID and the private key.`;
}

/** bg-agent's entry point: Probot's setup mode without credentials, else the app, its server and its worker. */
async function main(): Promise<void> {
  const hasKey = Boolean(process.env.PRIVATE_KEY || process.env.PRIVATE_KEY_PATH);
  if (!process.env.APP_ID || !hasKey) {
    // Probot's setup page registers the GitHub App from app.yml and writes APP_ID, PRIVATE_KEY and
    // WEBHOOK_SECRET to .env; restart afterwards to run the app.
    await run(() => {});
    return;
  }
  const env = readEnv();
  // NORMAL: webhook intake makes its group commits durable with an fsync of the WAL off the
  // event loop before acknowledging (src/store/group-commit.ts); other writes are NORMAL.
  const store = await openStore({ path: env.BG_DB_PATH, synchronous: "NORMAL" });
  // Only 5xx and network errors are retried: a refusal (405, 409, 422, 404) is an answer.
  const probot: Probot = createProbot({ overrides: { Octokit: BgProbotOctokit } });
  await probot.ready(); // its logger exists once initialised
  const log = probot.log as unknown as Logger;
  const identity: { login?: string } = {};
  let loop: WorkerLoop | undefined;
  const receiver = createApp({
    store,
    identity,
    configExtendsAllow: env.BG_CONFIG_EXTENDS_ALLOW,
    wake: () => void loop?.wake().catch((e: unknown) => log.warn({ err: e }, "worker pass failed")),
  })(probot);

  const oauth = dashboardOAuth(env);
  if (oauth)
    log.info(
      `dashboard: GitHub sign-in is on (callback ${oauth.publicUrl ?? "<this server>"}/bg/oauth/callback)`,
    );
  else if (env.GITHUB_CLIENT_ID && env.GITHUB_CLIENT_SECRET)
    log.info(
      "dashboard: GitHub sign-in is off; set BG_SESSION_SECRET (32+ characters) to turn it on",
    );

  const server = createServer({
    receiver,
    store,
    log,
    routes: [
      ...createWebRoutes({
        store,
        log,
        ...(env.BG_ADMIN_TOKEN ? { adminToken: env.BG_ADMIN_TOKEN } : {}),
        ...(env.BG_METRICS_TOKEN ? { metricsToken: env.BG_METRICS_TOKEN } : {}),
        ...(process.env.GHE_HOST ? { githubUrl: githubUrls().web } : {}),
        ...(oauth ? { oauth } : {}),
        ...(env.BG_WORKER === "on"
          ? {
              wake: async () => {
                if (!loop) throw new Error("the worker loop did not start (see the start-up log)");
                return loop.wake();
              },
            }
          : {}),
      }),
      ...createWorkerApiRoutes({ store, log }),
    ],
    webhookPath: probot.webhookPath,
    webhookProxyUrl: process.env.WEBHOOK_PROXY_URL || undefined,
    version: version(),
  });
  await server.listen(Number(process.env.PORT) || 3000, process.env.HOST || undefined);

  // Who we are, so our own events never count as a person's (isBot covers `[bot]` logins too).
  // GitHub not answering is one warning line, not a stack trace: webhooks are still received.
  void (async () => {
    const app = (await probot.auth()) as GitHubClient;
    const { data } = await app.rest.apps.getAuthenticated({ request: { retries: 0 } });
    if (data?.slug) identity.login = `${data.slug}[bot]`;
    log.info(`running as ${identity.login ?? "(unknown)"}`);
  })().catch((e: unknown) => log.warn(unreachableMessage(e)));

  if (env.BG_WORKER === "on") {
    try {
      loop = startWorkerLoop(
        createAppWorkerEnv({ probot, store, log, env, identity }),
        createProcessors(),
        loopOptionsFromEnv(env),
      );
      log.info(`worker loop started (a pass every ${env.BG_TICK_SECONDS}s)`);
    } catch (e) {
      log.warn(
        { err: e },
        "the worker loop did not start; webhooks are still recorded (run the worker with the CLI or the Action)",
      );
    }
  } else {
    log.info("BG_WORKER=off: webhooks are recorded; the worker runs elsewhere (CLI or Action)");
  }

  // History older than BG_RETENTION_DAYS is compacted in small steps, worker or not.
  const retention = startRetentionLoop(
    store,
    { days: env.BG_RETENTION_DAYS, auditDays: env.BG_AUDIT_RETENTION_DAYS },
    { log, dbPath: env.BG_DB_PATH },
  );

  let stopping = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal}: shutting down`);
    const force = setTimeout(() => process.exit(1), 20_000);
    force.unref();
    try {
      await loop?.stop();
      await retention.stop();
      await server.close();
      store.close();
      process.exit(0);
    } catch (e) {
      log.error({ err: e }, "error while shutting down");
      process.exit(1);
    }
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});

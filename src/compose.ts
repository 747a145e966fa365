import { randomUUID } from "node:crypto";
import { createProbot } from "probot";
import type { Probot } from "probot";
import { createApp } from "./app.js";
import { dashboardOAuth, githubUrls } from "./env.js";
import type { BgEnv } from "./env.js";
import type { GitHubClient } from "./integrations/github.js";
import { BgProbotOctokit, pacedProbotOctokit } from "./integrations/probot-octokit.js";
import type { Logger } from "./log.js";
import { createProcessors } from "./processors/index.js";
import { createServer } from "./server.js";
import type { BgServer } from "./server.js";
import type { IntakeCommit } from "./store/index.js";
import type { Store } from "./store/index.js";
import { openStoreFromEnv } from "./store/open.js";
import { createScopedStore } from "./store/scoped-store.js";
import { InProcessCoordination } from "./store/coordination.js";
import type { Coordination } from "./store/coordination.js";
import type { Route } from "./web/http.js";
import { createWebRoutes } from "./web/routes.js";
import { createWorkerApiRoutes } from "./web/worker-api.js";
import { createAppWorkerEnv } from "./worker/app-env.js";
import { loopOptionsFromEnv, startWorkerLoop } from "./worker/loop.js";
import type { WorkerLoop, WorkerLoopOptions } from "./worker/loop.js";
import { startRetentionLoop } from "./worker/retention.js";
import type { RetentionLoop } from "./worker/retention.js";
import { startWakeBus } from "./worker/wake-bus.js";
import type { WakeBus } from "./worker/wake-bus.js";
import type { Processor, WorkerEnv } from "./core/worker-contract.js";

/** What bg-agent is composed from: its settings, and what tests (or another host) bring their own of. */
export interface BgAgentOptions {
  /** BG_* settings (`readEnv`). */
  env: BgEnv;
  /** GHE_HOST, WEBHOOK_PROXY_URL, BG_LLM_*, the dashboard's OAuth app (default `process.env`). */
  processEnv?: NodeJS.ProcessEnv;
  /**
   * Default: from the environment (src/store/open.ts): PostgreSQL at DATABASE_URL, else SQLite at
   * BG_DB_PATH with `synchronous=NORMAL` (the group commit fsyncs the WAL).
   */
  store?: Store;
  /**
   * Default: Probot from APP_ID / PRIVATE_KEY / WEBHOOK_SECRET, with bg-agent's Octokit (whose
   * writes take the store's shared pace per installation when the store is shared by replicas).
   */
  probot?: Probot;
  /**
   * How this process coordinates with other replicas: per-repository locks for worker passes and
   * wakes heard by all. Default: the store's (`store.coordination()`, PostgreSQL), else in-process.
   */
  coordination?: Coordination;
  /** Default: Probot's logger; intake handlers then log through Probot's context.log. */
  log?: Logger;
  /** bg-agent's own login, used as given; default: read from GitHub at start. */
  identity?: { login?: string };
  /** Default: every processor. */
  processors?: (all: Processor[]) => Processor[];
  /** Start the in-process worker loop when BG_WORKER=on (default true; tests run passes on demand). */
  loop?: boolean;
  /** Sees every pass intake's wake asks for (default: a failed one is logged). */
  onWake?: (pass: Promise<unknown>) => void;
  /** Compact history older than BG_RETENTION_DAYS in the background (default true). */
  retention?: boolean;
  /** The HTTP routes after the webhook (default: dashboard, admin API, metrics, OAuth, worker API). */
  routes?: Route[];
  groupCommit?: IntakeCommit;
  /** Shown on the landing page. */
  version?: string;
}

/** bg-agent composed: what it is made of, and its start and stop. */
export interface BgAgent {
  store: Store;
  probot: Probot;
  log: Logger;
  server: BgServer;
  /** The app's worker environment (installation clients through `probot.auth`). */
  workerEnv: WorkerEnv;
  processors: Processor[];
  /** Listens, reads the app's identity, starts the worker and retention loops; resolves with the port. */
  start(port: number, host?: string): Promise<number>;
  /** The worker loop once started (undefined with BG_WORKER=off, `loop: false`, or when it failed to start). */
  loop(): WorkerLoop | undefined;
  /** Stops the loops, closes the server, then the store. */
  stop(): Promise<void>;
}

/**
 * The one composition of bg-agent, called by src/main.ts and by the end-to-end tests: the store,
 * Probot, the receiver (src/app.ts), the routes (dashboard, admin API, metrics, OAuth, worker
 * API), the server, the app's worker environment and its loop, and the retention loop.
 */
export async function createBgAgent(o: BgAgentOptions): Promise<BgAgent> {
  const { env } = o;
  const processEnv = o.processEnv ?? process.env;
  const store =
    o.store ??
    // SQLite NORMAL: webhook intake makes its group commits durable with an fsync of the WAL off
    // the event loop before acknowledging (src/store/group-commit.ts); other writes are NORMAL.
    (await openStoreFromEnv(env, { synchronous: "NORMAL" }));
  // A store without a group commit (PostgreSQL): each delivery is one transaction, which the
  // handlers' store calls join (src/store/scoped-store.ts).
  const scope = o.groupCommit || store.groupCommit ? undefined : createScopedStore(store);
  const probot = o.probot ?? (await defaultProbot(store));
  const log = o.log ?? (probot.log as unknown as Logger);
  const identity: { login?: string } = o.identity ?? {};
  const startsLoop = env.BG_WORKER === "on" && o.loop !== false;
  // Replicas on one database: locks and LISTEN/NOTIFY on connections of the store's (closed at stop).
  const coordination =
    o.coordination ??
    store.coordination?.({ lockConnections: env.BG_WORKER_CONCURRENCY + 1 }) ??
    new InProcessCoordination();
  // A store other processes share: the paces in it are shared too (sweeps, retention).
  const shared = store.coordination !== undefined;
  const replica = randomUUID();

  let loop: WorkerLoop | undefined;
  let bus: WakeBus | undefined;
  const onWake =
    o.onWake ??
    ((p: Promise<unknown>) =>
      void p.catch((e: unknown) => log.warn({ err: e }, "worker pass failed")));
  const wake = (): void => {
    if (loop) onWake(loop.wake());
  };
  const receiver = createApp({
    store: scope?.store ?? store,
    identity,
    ...(o.log ? { log: o.log } : {}),
    configExtendsAllow: env.BG_CONFIG_EXTENDS_ALLOW,
    // In a delivery's transaction, the pass starts once it committed (it would not see its tasks).
    wake: (repo) => {
      const now = (): void => {
        wake();
        bus?.announce(repo);
      };
      if (scope) scope.afterCommit(now);
      else now();
    },
  })(probot);

  const server = createServer({
    receiver,
    store,
    log,
    routes:
      o.routes ??
      appRoutes({
        env,
        processEnv,
        store,
        log,
        startsLoop,
        loop: () => loop,
        announce: () => bus?.announce(),
      }),
    webhookPath: probot.webhookPath,
    ...(processEnv.WEBHOOK_PROXY_URL ? { webhookProxyUrl: processEnv.WEBHOOK_PROXY_URL } : {}),
    ...(o.groupCommit ? { groupCommit: o.groupCommit } : {}),
    ...(scope ? { deliveryScope: scope } : {}),
    ...(o.version ? { version: o.version } : {}),
  });

  const workerEnv = createAppWorkerEnv({ probot, store, log, env, processEnv, identity });
  const all = createProcessors();
  const processors = o.processors ? o.processors(all) : all;
  let retention: RetentionLoop | undefined;

  return {
    store,
    probot,
    log,
    server,
    workerEnv,
    processors,
    loop: () => loop,
    async start(port, host) {
      const bound = await server.listen(port, host);
      if (!o.identity) readIdentity(probot, identity, log);
      if (startsLoop)
        loop = startLoop(workerEnv, processors, env, log, {
          locks: coordination,
          // Shared store: one replica sweeps per BG_SWEEP_MINUTES (GitHub's quota is per installation).
          ...(shared
            ? { sweepDue: (everyMs, now) => store.pace.once("worker-sweep", everyMs, now) }
            : {}),
        });
      else if (env.BG_WORKER === "off")
        log.info("BG_WORKER=off: webhooks are recorded; the worker runs elsewhere (CLI or Action)");
      // Wakes from the other replicas (and this one's, announced to them).
      bus = await startWakeBus({
        coordination,
        self: replica,
        log,
        ...(loop ? { onWake: wake } : {}),
      });
      // History older than BG_RETENTION_DAYS is compacted in small steps, worker or not.
      if (o.retention !== false)
        retention = startRetentionLoop(
          store,
          { days: env.BG_RETENTION_DAYS, auditDays: env.BG_AUDIT_RETENTION_DAYS },
          {
            log,
            // WAL checkpoints off the event loop: a SQLite file only.
            ...(store.dialect === "sqlite" ? { dbPath: env.BG_DB_PATH } : {}),
            // Shared store: one replica compacts per interval.
            ...(shared ? { due: (everyMs: number) => store.pace.once("retention", everyMs) } : {}),
          },
        );
      return bound;
    },
    async stop() {
      // The bus first: a wake heard while the loop stops would only fail.
      await bus?.stop();
      await loop?.stop();
      await retention?.stop();
      await server.close();
      if (o.coordination === undefined) await coordination.close();
      await store.close();
    },
  };
}

/**
 * Probot from its environment; only 5xx and network errors are retried (a 405, 409, 422 or 404 is
 * an answer). On a store shared by replicas, writes also take the shared pace per installation.
 */
async function defaultProbot(store: Store): Promise<Probot> {
  const Octokit = store.coordination ? pacedProbotOctokit({ pace: store.pace }) : BgProbotOctokit;
  const probot = createProbot({ overrides: { Octokit } });
  await probot.ready(); // its logger exists once initialised
  return probot;
}

/** The routes after the webhook: the dashboard, admin API, metrics and OAuth, then the worker API. */
function appRoutes(o: {
  env: BgEnv;
  processEnv: NodeJS.ProcessEnv;
  store: Store;
  log: Logger;
  startsLoop: boolean;
  loop: () => WorkerLoop | undefined;
  /** Tells the other replicas to run a pass too. */
  announce: () => void;
}): Route[] {
  const { env, store, log } = o;
  const oauth = dashboardOAuth(env, o.processEnv);
  if (oauth)
    log.info(
      `dashboard: GitHub sign-in is on (callback ${oauth.publicUrl ?? "<this server>"}/bg/oauth/callback)`,
    );
  else if (env.GITHUB_CLIENT_ID && env.GITHUB_CLIENT_SECRET)
    log.info(
      "dashboard: GitHub sign-in is off; set BG_SESSION_SECRET (32+ characters) to turn it on",
    );
  return [
    ...createWebRoutes({
      store,
      log,
      ...(env.BG_ADMIN_TOKEN ? { adminToken: env.BG_ADMIN_TOKEN } : {}),
      ...(env.BG_METRICS_TOKEN ? { metricsToken: env.BG_METRICS_TOKEN } : {}),
      ...(o.processEnv.GHE_HOST ? { githubUrl: githubUrls(o.processEnv).web } : {}),
      ...(oauth ? { oauth } : {}),
      ...(o.startsLoop
        ? {
            wake: async () => {
              const loop = o.loop();
              if (!loop) throw new Error("the worker loop did not start (see the start-up log)");
              o.announce();
              return loop.wake();
            },
          }
        : {}),
    }),
    ...createWorkerApiRoutes({ store, log }),
  ];
}

/** Who we are, so our own events never count as a person's (isBot covers `[bot]` logins too). */
function readIdentity(probot: Probot, identity: { login?: string }, log: Logger): void {
  void (async () => {
    const app = (await probot.auth()) as GitHubClient;
    const { data } = await app.rest.apps.getAuthenticated({ request: { retries: 0 } });
    if (data?.slug) identity.login = `${data.slug}[bot]`;
    log.info(`running as ${identity.login ?? "(unknown)"}`);
  })().catch((e: unknown) => log.warn(unreachableMessage(e)));
}

/** The one line said when GitHub cannot be reached at start-up (no stack trace). */
function unreachableMessage(e: unknown): string {
  const err = e as { status?: number; message?: string; cause?: { code?: string } };
  const why = err.status
    ? `HTTP ${err.status}: ${err.message ?? ""}`.trim()
    : (err.cause?.code ?? err.message ?? String(e));
  return `GitHub (${githubUrls().api}) cannot be reached to read the app's identity (${why}); webhooks are still received. Check the network, GHE_HOST, APP_ID and the private key.`;
}

/** The app's worker loop; a failure to start leaves intake running (the worker can run elsewhere). */
function startLoop(
  workerEnv: WorkerEnv,
  processors: Processor[],
  env: BgEnv,
  log: Logger,
  replicas: Pick<WorkerLoopOptions, "sweepDue"> & { locks: Coordination },
): WorkerLoop | undefined {
  try {
    const base = loopOptionsFromEnv(env);
    const loop = startWorkerLoop(workerEnv, processors, {
      ...base,
      pass: { ...base.pass, locks: replicas.locks },
      ...(replicas.sweepDue ? { sweepDue: replicas.sweepDue } : {}),
    });
    log.info(`worker loop started (a pass every ${env.BG_TICK_SECONDS}s)`);
    return loop;
  } catch (e) {
    log.warn(
      { err: e },
      "the worker loop did not start; webhooks are still recorded (run the worker with the CLI or the Action)",
    );
    return undefined;
  }
}

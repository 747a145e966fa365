import { readFileSync } from "node:fs";
import { run } from "probot";
import { createBgAgent } from "./compose.js";
import { readEnv } from "./env.js";
import { StoreOpenError } from "./store/open.js";
import { errText } from "./util/errors.js";

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

/** bg-agent's entry point: Probot's setup mode without credentials, else the app (src/compose.ts) until a signal. */
async function main(): Promise<void> {
  const hasKey = Boolean(process.env.PRIVATE_KEY || process.env.PRIVATE_KEY_PATH);
  if (!process.env.APP_ID || !hasKey) {
    // Probot's setup page registers the GitHub App from app.yml and writes APP_ID, PRIVATE_KEY and
    // WEBHOOK_SECRET to .env; restart afterwards to run the app.
    await run(() => {});
    return;
  }
  const agent = await createBgAgent({ env: readEnv(), version: version() });
  await agent.start(Number(process.env.PORT) || 3000, process.env.HOST || undefined);
  const { log } = agent;

  let stopping = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal}: shutting down`);
    const force = setTimeout(() => process.exit(1), 20_000);
    force.unref();
    try {
      await agent.stop();
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
  // A store that cannot be opened (PostgreSQL unreachable, a wrong database, a schema migrated by
  // a newer bg-agent) is one line naming where, without the password; no fallback to SQLite.
  console.error(e instanceof StoreOpenError ? `bg-agent: ${errText(e)}` : errText(e));
  process.exit(1);
});

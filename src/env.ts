import { registerEnvSecrets } from "./util/secrets.js";
import { z } from "zod";
import { parseExtendsAllow } from "./config/extends.js";
import { errText } from "./util/errors.js";
import { storeEnvShape } from "./store/store-env.js";

/** bg-agent's own environment (Probot's APP_ID, PRIVATE_KEY, WEBHOOK_SECRET... are read by Probot). */

/** `BG_CONFIG_EXTENDS_ALLOW` as the app and the CLI read it (a parse error names what to fix). */
export const extendsAllowEnv = z
  .string()
  .optional()
  .transform((v, ctx) => {
    try {
      return parseExtendsAllow(v);
    } catch (e) {
      ctx.addIssue({ code: "custom", message: errText(e) });
      return z.NEVER;
    }
  });

const envSchema = z.object({
  /**
   * The store: DATABASE_URL (PostgreSQL), BG_DB_SCHEMA, BG_DB_POOL_SIZE,
   * BG_DB_IDLE_TX_TIMEOUT_MS, BG_DB_POOLER, else BG_DB_PATH (SQLite).
   */
  ...storeEnvShape,
  BG_ADMIN_TOKEN: z.string().min(16, "BG_ADMIN_TOKEN must be at least 16 characters").optional(),
  /** When set, /bg/metrics needs it as a bearer token (see docs/dashboard.md); otherwise /bg/metrics is open. */
  BG_METRICS_TOKEN: z
    .string()
    .min(16, "BG_METRICS_TOKEN must be at least 16 characters")
    .optional(),
  BG_TICK_SECONDS: z.coerce.number().int().min(1).max(3600).default(30),
  BG_WORKER: z.enum(["on", "off"]).default("on"),
  /** Repositories a pass of the app's worker processes at once (src/worker/pass.ts). */
  BG_WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(32).default(4),
  /**
   * How long a pass's claim on a task lasts without a heartbeat: a worker (or a replica) that
   * died holding tasks leaves them to the others this long after its last heartbeat.
   */
  BG_LEASE_SECONDS: z.coerce.number().int().min(3).max(86_400).default(600),
  /** The app-level LLM rate limit, per provider, for the whole process (src/llm/rate-limit.ts). */
  BG_LLM_RPM: z.coerce.number().int().min(1).default(10),
  BG_LLM_TPM: z.coerce.number().int().min(100).default(100_000),
  BG_PUBLIC_URL: z.string().url().optional(),
  BG_SWEEP_MINUTES: z.coerce.number().min(1).default(30),
  /**
   * Days of history kept (runs, finished tasks, batches, deliveries); 0 keeps everything.
   * Deliveries are kept at least 7 days whatever this says (GitHub's redelivery window is 3).
   */
  BG_RETENTION_DAYS: z.coerce
    .number()
    .int()
    .min(0)
    .max(36_500)
    .refine((d) => d === 0 || d >= 7, "BG_RETENTION_DAYS must be 0 (keep everything) or at least 7")
    .default(90),
  /** Days of audit entries kept; 0 keeps them all. */
  BG_AUDIT_RETENTION_DAYS: z.coerce.number().int().min(0).max(36_500).default(365),
  LINEAR_API_KEY: z.string().optional(),
  BG_LINEAR_API_URL: z.string().url().optional(),
  /**
   * GitHub sign-in for the dashboard (docs/dashboard.md): the GitHub App's client ID and secret
   * (Probot's setup writes both to .env) and BG_SESSION_SECRET, which turns it on.
   */
  GITHUB_CLIENT_ID: z.string().optional(),
  GITHUB_CLIENT_SECRET: z.string().optional(),
  BG_SESSION_SECRET: z
    .string()
    .min(
      32,
      "BG_SESSION_SECRET must be at least 32 characters (e.g. the output of: openssl rand -hex 32)",
    )
    .optional(),
  BG_SESSION_HOURS: z.coerce.number().min(0.25).max(168).default(8),
  /**
   * Owners (acme) or repositories (acme/base), comma-separated, whose config files a
   * repository's `_extends` may name besides its own owner's (docs/configuration.md).
   */
  BG_CONFIG_EXTENDS_ALLOW: extendsAllowEnv,
});

const checkedSchema = envSchema.superRefine((e, ctx) => {
  if (e.BG_SESSION_SECRET && !(e.GITHUB_CLIENT_ID && e.GITHUB_CLIENT_SECRET)) {
    const missing = [
      ...(e.GITHUB_CLIENT_ID ? [] : ["GITHUB_CLIENT_ID"]),
      ...(e.GITHUB_CLIENT_SECRET ? [] : ["GITHUB_CLIENT_SECRET"]),
    ];
    ctx.addIssue({
      code: "custom",
      path: ["BG_SESSION_SECRET"],
      message: `GitHub sign-in for the dashboard is turned on by BG_SESSION_SECRET but ${missing.join(" and ")} ${missing.length > 1 ? "are" : "is"} not set: copy the client ID and a client secret from the GitHub App's settings page (or unset BG_SESSION_SECRET)`,
    });
  }
});

export type BgEnv = z.infer<typeof envSchema>;

/** Parses the environment; an invalid value stops start-up with a message naming the variable. */
export function readEnv(env: NodeJS.ProcessEnv = process.env): BgEnv {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ""));
  registerEnvSecrets(cleaned);
  const r = checkedSchema.safeParse(cleaned);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new Error(`Invalid environment:\n${lines.join("\n")}`);
  }
  return r.data;
}

/** GitHub's web and REST API addresses: github.com, or GHE_HOST/GHE_PROTOCOL like Probot. */
export function githubUrls(env: NodeJS.ProcessEnv = process.env): { web: string; api: string } {
  if (!env.GHE_HOST) return { web: "https://github.com", api: "https://api.github.com" };
  const web = `${env.GHE_PROTOCOL || "https"}://${env.GHE_HOST}`;
  return { web, api: `${web}/api/v3` };
}

/** The dashboard's GitHub sign-in settings, or null when it is off (BG_SESSION_SECRET unset). */
export function dashboardOAuth(
  env: BgEnv,
  processEnv: NodeJS.ProcessEnv = process.env,
): {
  clientId: string;
  clientSecret: string;
  sessionSecret: string;
  sessionHours: number;
  githubUrl: string;
  apiUrl: string;
  publicUrl?: string;
} | null {
  if (!env.BG_SESSION_SECRET || !env.GITHUB_CLIENT_ID || !env.GITHUB_CLIENT_SECRET) return null;
  const urls = githubUrls(processEnv);
  return {
    clientId: env.GITHUB_CLIENT_ID,
    clientSecret: env.GITHUB_CLIENT_SECRET,
    sessionSecret: env.BG_SESSION_SECRET,
    sessionHours: env.BG_SESSION_HOURS,
    githubUrl: urls.web,
    apiUrl: urls.api,
    ...(env.BG_PUBLIC_URL ? { publicUrl: env.BG_PUBLIC_URL } : {}),
  };
}

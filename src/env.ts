import { z } from "zod";

/** bg-agent's own environment (Probot's APP_ID, PRIVATE_KEY, WEBHOOK_SECRET... are read by Probot). */
const envSchema = z.object({
  BG_DB_PATH: z.string().min(1).default("./data/bg-agent.db"),
  BG_ADMIN_TOKEN: z.string().min(16, "BG_ADMIN_TOKEN must be at least 16 characters").optional(),
  /** When set, /bg/metrics needs it as a bearer token (see docs/dashboard.md); otherwise /bg/metrics is open. */
  BG_METRICS_TOKEN: z
    .string()
    .min(16, "BG_METRICS_TOKEN must be at least 16 characters")
    .optional(),
  BG_TICK_SECONDS: z.coerce.number().int().min(1).max(3600).default(30),
  BG_WORKER: z.enum(["on", "off"]).default("on"),
  BG_WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(32).default(4),
  BG_PUBLIC_URL: z.string().url().optional(),
  BG_SWEEP_MINUTES: z.coerce.number().min(1).default(30),
  LINEAR_API_KEY: z.string().optional(),
  BG_LINEAR_API_URL: z.string().url().optional(),
});

export type BgEnv = z.infer<typeof envSchema>;

/** Parses the environment; an invalid value stops start-up with a message naming the variable. */
export function readEnv(env: NodeJS.ProcessEnv = process.env): BgEnv {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ""));
  const r = envSchema.safeParse(cleaned);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new Error(`Invalid environment:\n${lines.join("\n")}`);
  }
  return r.data;
}

import * as core from "@actions/core";
import { z } from "zod";
import { parseExtendsAllow } from "../../src/config/extends.js";
import { MODES } from "../../src/core/worker-contract.js";
import { errText } from "../../src/util/errors.js";

const optional = z
  .string()
  .transform((s) => s.trim())
  .transform((s) => (s === "" ? undefined : s));

const bool = (name: string) =>
  z
    .string()
    .transform((s) => s.trim().toLowerCase())
    .pipe(z.enum(["", "true", "false"], { message: `${name} must be true or false` }))
    .transform((s) => s === "true");

export const inputSchema = z.object({
  githubToken: z
    .string()
    .transform((s) => s.trim())
    .pipe(
      z.string().min(1, "github-token is empty: pass a token (the default is ${{ github.token }})"),
    ),
  mode: z
    .string()
    .transform((s) => s.trim() || "all")
    .pipe(z.enum(MODES, { message: `mode must be one of ${MODES.join(", ")}` })),
  llmProvider: optional,
  llmModel: optional,
  llmApiKey: optional,
  llmBaseUrl: optional.pipe(z.string().url("llm-base-url must be a URL").optional()),
  /** The run's LLM rate limit (requests / tokens per minute); BG_LLM_RPM / BG_LLM_TPM otherwise. */
  llmRpm: optional.pipe(
    z.string().regex(/^\d+$/, "llm-rpm must be a whole number of requests per minute").optional(),
  ),
  llmTpm: optional.pipe(
    z.string().regex(/^\d+$/, "llm-tpm must be a whole number of tokens per minute").optional(),
  ),
  linearApiKey: optional,
  configPath: optional.pipe(
    z
      .string()
      .refine(
        (p) => !p.split(/[\\/]/).includes(".."),
        "config-path must stay inside the repository",
      )
      .optional(),
  ),
  maxCostUsd: optional
    .transform((s) => (s === undefined ? undefined : Number(s)))
    .pipe(
      z
        .number({ message: "max-cost-usd must be a number of US dollars, such as 0.5" })
        .min(0, "max-cost-usd must be 0 or more")
        .optional(),
    ),
  dryRun: bool("dry-run"),
  /** Unset or "true": an invalid config fails the step (red), after the run reported it. */
  failOnInvalidConfig: z
    .string()
    .transform((s) => s.trim().toLowerCase())
    .pipe(
      z.enum(["", "true", "false"], { message: "fail-on-invalid-config must be true or false" }),
    )
    .transform((s) => s !== "false"),
  appUrl: optional.pipe(
    z
      .string()
      .url("app-url must be a URL such as https://bg.example.com")
      .refine((u) => /^https?:\/\//.test(u), "app-url must be http(s)")
      .optional(),
  ),
  fallback: z
    .string()
    .transform((s) => s.trim() || "fail")
    .pipe(z.enum(["fail", "standalone"], { message: "fallback must be fail or standalone" })),
  oidcAudience: z
    .string()
    .transform((s) => s.trim() || "bg-agent")
    .pipe(z.string().max(200)),
  configExtendsAllow: z.string().transform((v, ctx) => {
    try {
      return parseExtendsAllow(v, "config-extends-allow");
    } catch (e) {
      ctx.addIssue({ code: "custom", message: errText(e) });
      return z.NEVER;
    }
  }),
});
export type Inputs = z.infer<typeof inputSchema>;

export class InputError extends Error {}

/** Reads and validates the Action's inputs (INPUT_* variables); secrets are masked before anything is logged. */
export function readInputs(): Inputs {
  const get = (name: string) => core.getInput(name);
  for (const secret of ["github-token", "llm-api-key", "linear-api-key"]) {
    const v = get(secret).trim();
    if (v) core.setSecret(v);
  }
  const parsed = inputSchema.safeParse({
    githubToken: get("github-token"),
    mode: get("mode"),
    llmProvider: get("llm-provider"),
    llmModel: get("llm-model"),
    llmApiKey: get("llm-api-key"),
    llmBaseUrl: get("llm-base-url"),
    llmRpm: get("llm-rpm"),
    llmTpm: get("llm-tpm"),
    linearApiKey: get("linear-api-key"),
    configPath: get("config-path"),
    maxCostUsd: get("max-cost-usd"),
    dryRun: get("dry-run"),
    failOnInvalidConfig: get("fail-on-invalid-config"),
    appUrl: get("app-url"),
    fallback: get("fallback"),
    oidcAudience: get("oidc-audience"),
    configExtendsAllow: get("config-extends-allow") || (process.env.BG_CONFIG_EXTENDS_ALLOW ?? ""),
  });
  if (!parsed.success) {
    throw new InputError(`Invalid input: ${parsed.error.issues.map((i) => i.message).join("; ")}`);
  }
  return parsed.data;
}

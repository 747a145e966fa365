import { z } from "zod";

/**
 * Where a task reports: GitHub (an issue number, `dashboard`, `check_run`) or outside it
 * (`slack:NAME`, `discord:NAME`, `webhook:NAME`, NAME being the environment variable that holds
 * the URL), or a list of those. The kinds outside GitHub are declared here; each has its module
 * in src/report/targets (the registry there is typed by this list).
 */
export const EXTERNAL_TARGET_KINDS = ["slack", "discord", "webhook"] as const;
export type ExternalTargetKind = (typeof EXTERNAL_TARGET_KINDS)[number];

export type ReportTarget =
  | { kind: "issue"; number: number }
  | { kind: "dashboard" }
  | { kind: "check_run" }
  | { kind: ExternalTargetKind; env: string };

export const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]{0,99}$/;

/** Variables a report target may never name: bg-agent's and GitHub's own credentials. */
const RESERVED_ENV =
  /^(BG_|GITHUB_|ACTIONS_|RUNNER_|INPUT_)|^(WEBHOOK_SECRET|PRIVATE_KEY|APP_ID|CLIENT_SECRET|CLIENT_ID)$/i;

const EXAMPLE = "slack:SLACK_WEBHOOK_URL";

/** Why a string is not a report target (null: it is one). */
export function targetProblem(v: string): string | null {
  if (v === "dashboard" || v === "check_run") return null;
  if (
    /^[a-z][a-z0-9+.-]*:\/\//i.test(v) ||
    /\bhooks\.slack\.com\b|discord(app)?\.com\/api/i.test(v)
  )
    return `report_to must not hold a URL: anyone who can read .github/bg-agent.yml could post with it. Put the URL in an environment variable (in the Action, a secret passed as env) and name it, e.g. ${EXAMPLE}`;
  const m = /^([a-z]+):(.*)$/.exec(v);
  if (!m)
    return `report_to must be an issue number, "dashboard" or "check_run", or slack:NAME, discord:NAME or webhook:NAME (NAME: the environment variable holding the URL); got "${v.slice(0, 80)}"`;
  const kind = m[1]!;
  const name = m[2]!;
  if (!(EXTERNAL_TARGET_KINDS as readonly string[]).includes(kind))
    return `unknown report target kind "${kind}": use ${EXTERNAL_TARGET_KINDS.map((k) => `${k}:NAME`).join(", ")}`;
  if (/[/:@]/.test(name))
    return `report_to must not hold a URL: name the environment variable that holds it, e.g. ${kind}:${kind.toUpperCase()}_WEBHOOK_URL`;
  if (!ENV_NAME_RE.test(name))
    return `${kind}:${name.slice(0, 80)}: NAME must be an environment variable name (letters, digits, _), e.g. ${kind}:${kind.toUpperCase()}_WEBHOOK_URL`;
  if (RESERVED_ENV.test(name))
    return `${kind}:${name}: bg-agent's and GitHub's own variables (BG_*, GITHUB_*, WEBHOOK_SECRET, …) cannot be report targets`;
  return null;
}

const targetString = z
  .string()
  .max(120, "report_to: a target is at most 120 characters")
  .superRefine((v, ctx) => {
    const why = targetProblem(v);
    if (why) ctx.addIssue({ code: "custom", message: why });
  });

const single = z.union([z.number().int().positive(), targetString], {
  error:
    'report_to must be an issue number, "dashboard", "check_run", slack:NAME, discord:NAME, webhook:NAME, or a list of those',
});

export const reportToSchema = z
  .union([single, z.array(single).min(1).max(5, "report_to: at most 5 targets")])
  .default("dashboard")
  .describe(
    "Where results go: an issue number, dashboard, check_run, slack:NAME, discord:NAME, webhook:NAME (NAME: the environment variable with the URL), or a list",
  );

/** A validated `report_to`, as a list of targets (duplicates dropped). */
export function reportTargets(v: number | string | readonly (number | string)[]): ReportTarget[] {
  const out: ReportTarget[] = [];
  const seen = new Set<string>();
  for (const t of Array.isArray(v) ? v : [v]) {
    const key = String(t);
    if (seen.has(key)) continue;
    seen.add(key);
    if (typeof t === "number") out.push({ kind: "issue", number: t });
    else if (t === "dashboard") out.push({ kind: "dashboard" });
    else if (t === "check_run") out.push({ kind: "check_run" });
    else {
      const i = t.indexOf(":");
      const kind = t.slice(0, i) as ExternalTargetKind;
      out.push({ kind, env: t.slice(i + 1) });
    }
  }
  return out;
}

/** `slack:NAME`, `#12`, `dashboard`: a target as people read it. */
export const targetLabel = (t: ReportTarget): string =>
  t.kind === "issue" ? `#${t.number}` : "env" in t ? `${t.kind}:${t.env}` : t.kind;

import { z } from "zod";
import { defaultConfig } from "../config/load.js";
import type { ConfigResult } from "../config/load.js";
import type { RepoConfig } from "../config/schema.js";
import { isBot } from "../integrations/github.js";
import type { Logger } from "../log.js";
import type { Store, TxStore } from "../store/index.js";
import type { RepositoryBrief } from "../store/repositories.js";
import type { IntakeDeps, WebhookEvent } from "./types.js";

/** The payload fields every repository-scoped handler relies on. */
export const repositorySchema = z.object({
  id: z.number().int().optional(),
  full_name: z.string().regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/),
  default_branch: z.string().min(1).optional(),
});

export const installationSchema = z.object({ id: z.number().int().positive() });

export const senderSchema = z.object({ login: z.string(), type: z.string().optional() }).nullish();

const scopedSchema = z.object({
  action: z.string().optional(),
  installation: installationSchema.optional(),
  repository: repositorySchema.optional(),
  sender: senderSchema,
});

/** The repository an event is about, once we know the app is installed there. */
export interface EventTarget {
  repo: string;
  repoId: number | null;
  installationId: number;
  defaultBranch: string | null;
  action: string | undefined;
  log: Logger;
  /** The repository's row before this event, if known. */
  known: RepositoryBrief | undefined;
  /** The payload's sender, as parsed with the rest (humanSender reuses it). */
  sender: z.infer<typeof senderSchema>;
}

/** `event.action` or the bare event name, for logs. */
export const eventLabel = (event: WebhookEvent): string => {
  const p = event.payload;
  const action =
    p && typeof p === "object" && "action" in p && typeof p.action === "string"
      ? p.action
      : undefined;
  return action ? `${event.name}.${action}` : event.name;
};

/**
 * The installed repository a webhook is about, or null (logged) when the payload has no
 * installation or repository, or the repository was removed from the installation.
 */
export async function targetOf(deps: IntakeDeps, event: WebhookEvent): Promise<EventTarget | null> {
  // Several handlers see the same delivery (its family's, then activity): resolve it once.
  const p = event.payload;
  if (p && typeof p === "object") {
    const hit = targets.get(p);
    if (hit !== undefined && hit.store === deps.store) return hit.target;
  }
  const target = await resolveTarget(deps, event);
  if (p && typeof p === "object") targets.set(p, { store: deps.store, target });
  return target;
}

const targets = new WeakMap<object, { store: Store; target: EventTarget | null }>();

async function resolveTarget(deps: IntakeDeps, event: WebhookEvent): Promise<EventTarget | null> {
  const parsed = scopedSchema.safeParse(event.payload);
  // One child logger per event: the skip paths below build their own.
  const base = (): Logger => deps.log.child({ event: eventLabel(event), delivery: event.id });
  if (!parsed.success) {
    base().warn(
      { issues: parsed.error.issues.slice(0, 5) },
      "skip: the payload's repository or installation is malformed",
    );
    return null;
  }
  const { installation, repository, action, sender } = parsed.data;
  if (!installation || !repository) {
    base().debug(`skip: the payload has no ${installation ? "repository" : "installation"}`);
    return null;
  }
  const log = deps.log.child({
    event: eventLabel(event),
    delivery: event.id,
    repo: repository.full_name,
  });
  const known = await deps.store.repos.brief(repository.full_name);
  if (known && !known.installed && known.installationId === installation.id) {
    log.info("skip: bg-agent was removed from this repository");
    return null;
  }
  return {
    repo: repository.full_name,
    repoId: repository.id ?? null,
    installationId: installation.id,
    defaultBranch: repository.default_branch ?? null,
    action,
    log,
    known,
    sender,
  };
}

/** Records (or refreshes) the repository row; call inside the handler's transaction. */
export async function rememberRepo(store: TxStore, t: EventTarget): Promise<void> {
  const k = t.known;
  if (
    k?.installed &&
    k.installationId === t.installationId &&
    (t.repoId === null || k.repoId === t.repoId) &&
    (t.defaultBranch === null || k.defaultBranch === t.defaultBranch)
  ) {
    return; // nothing new: save a write
  }
  await store.repos.upsert({
    fullName: t.repo,
    repoId: t.repoId,
    installationId: t.installationId,
    defaultBranch: t.defaultBranch,
  });
}

/** The human who triggered an event, or null for bots (bg-agent included) and missing senders. */
const withSender = z.object({ sender: senderSchema });

export function humanSender(deps: IntakeDeps, payload: unknown): string | null {
  // A handler already resolved this delivery's target: its sender was parsed with it.
  const hit = payload && typeof payload === "object" ? targets.get(payload) : undefined;
  let s: z.infer<typeof senderSchema>;
  if (hit?.target && hit.store === deps.store) s = hit.target.sender;
  else {
    const p = withSender.safeParse(payload);
    if (!p.success) return null;
    s = p.data.sender;
  }
  if (!s) return null;
  if (isBot(s)) return null;
  if (deps.selfLogin && s.login.toLowerCase() === deps.selfLogin.toLowerCase()) return null;
  return s.login;
}

/** Parses the handler-specific part of a payload; logs and returns null when it does not fit. */
export function parsePayload<S extends z.ZodType>(
  schema: S,
  event: WebhookEvent,
  log: Logger,
): z.infer<S> | null {
  const r = schema.safeParse(event.payload);
  if (!r.success) {
    log.warn(
      { issues: r.error.issues.slice(0, 5).map((i) => `${i.path.join(".")}: ${i.message}`) },
      "skip: the payload does not have the fields bg-agent needs",
    );
    return null;
  }
  return r.data;
}

/**
 * The repository's config when new work may be queued, or null (logged) when the file is
 * invalid: then no new work is queued until it is fixed (the problem is reported by the loader).
 */
export async function configForNewWork(
  deps: IntakeDeps,
  t: EventTarget,
): Promise<RepoConfig | null> {
  let result: ConfigResult;
  try {
    result = await deps.loadConfig(t.known);
  } catch (e) {
    t.log.warn({ err: e }, "could not load the config; the defaults apply to this event");
    return defaultConfig();
  }
  if (!result.ok) {
    t.log.info(
      { problems: result.problems.length },
      "skip: .github/bg-agent.yml is invalid; no new work until it is fixed",
    );
    return null;
  }
  return result.config;
}

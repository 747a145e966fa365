import { z } from "zod";
import { permissionLevels } from "../config/schema.js";
import type { GitHubClient, RepoRef } from "../integrations/github.js";
import { httpStatus } from "../integrations/github.js";

export type PermissionLevel = (typeof permissionLevels)[number];

/** read < triage < write < maintain < admin; `none` below all. */
export const rank = (level: PermissionLevel | "none"): number =>
  level === "none" ? -1 : permissionLevels.indexOf(level);

export const meets = (level: PermissionLevel | "none", min: PermissionLevel): boolean =>
  rank(level) >= rank(min);

const responseSchema = z.object({
  // The legacy field only says admin / write / read / none.
  permission: z.string(),
  // The role, when GitHub sends it: admin, maintain, write, triage, read, or a custom role's name.
  role_name: z.string().nullish(),
});

export type PermissionLookup =
  | { ok: true; level: PermissionLevel | "none" }
  /** The lookup failed: the caller must refuse, never allow by default. */
  | { ok: false; reason: string };

function toLevel(
  permission: string,
  roleName: string | null | undefined,
): PermissionLevel | "none" {
  const known = (s: string | null | undefined): PermissionLevel | undefined =>
    (permissionLevels as readonly string[]).includes(s ?? "") ? (s as PermissionLevel) : undefined;
  // A custom role name (not one of the five) says nothing comparable: fall back to `permission`.
  return known(roleName?.toLowerCase()) ?? known(permission.toLowerCase()) ?? "none";
}

/** The commenter's permission on the repository (GET /repos/{owner}/{repo}/collaborators/{user}/permission). */
export async function lookupPermission(
  octokit: GitHubClient,
  ref: RepoRef,
  user: string,
): Promise<PermissionLookup> {
  try {
    const { data } = await octokit.rest.repos.getCollaboratorPermissionLevel({
      ...ref,
      username: user,
    });
    const parsed = responseSchema.safeParse(data);
    if (!parsed.success)
      return {
        ok: false,
        reason: "GitHub's answer about your permission did not have the expected shape",
      };
    return { ok: true, level: toLevel(parsed.data.permission, parsed.data.role_name) };
  } catch (e) {
    const status = httpStatus(e);
    // 404: not a collaborator (and not a user GitHub knows in this repository).
    if (status === 404) return { ok: true, level: "none" };
    const what = status ? `HTTP ${status}` : (e as Error).message.slice(0, 200);
    return { ok: false, reason: `GitHub did not answer the permission check (${what})` };
  }
}

export type PermissionDecision =
  { allowed: true; level: PermissionLevel | "none" } | { allowed: false; reason: string };

/** Decides whether `user` may run a command that needs `min`. */
export async function checkPermission(
  octokit: GitHubClient,
  ref: RepoRef,
  user: string,
  min: PermissionLevel,
): Promise<PermissionDecision> {
  const found = await lookupPermission(octokit, ref, user);
  if (!found.ok) {
    return {
      allowed: false,
      reason: `I could not confirm your permission, so I did not act: ${found.reason}. Please try again later (it needs ${min} permission).`,
    };
  }
  if (meets(found.level, min)) return { allowed: true, level: found.level };
  const have =
    found.level === "none" ? "no permission on this repository" : `${found.level} permission`;
  return {
    allowed: false,
    reason: `Sorry, this command needs ${min} permission on this repository, and you have ${have}. Someone with ${min} access can run it.`,
  };
}

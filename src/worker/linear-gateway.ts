import type { LinearGateway } from "../integrations/linear-types.js";

/**
 * The Linear client on @linear/sdk (src/integrations/linear.ts, `createLinearGateway`), built on
 * another branch. TODO(merge): replace with
 * `export { createLinearGateway } from "../integrations/linear.js";`
 */
export const createLinearGateway:
  ((o: { apiKey: string; apiUrl?: string }) => LinearGateway) | undefined = undefined;

/** Linear for a run, when a key is given; a note when it cannot be used. */
export function linearFor(
  apiKey: string | undefined,
  apiUrl: string | undefined,
  notes: string[],
): LinearGateway | undefined {
  if (!apiKey) return undefined;
  if (!createLinearGateway) {
    notes.push(
      "A Linear API key was given, but this build has no Linear client: Linear issues are not analysed.",
    );
    return undefined;
  }
  return createLinearGateway({ apiKey, ...(apiUrl ? { apiUrl } : {}) });
}

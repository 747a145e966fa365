import { createLinearGateway } from "../integrations/linear.js";
import type { LinearGateway } from "../integrations/linear-types.js";

/** Linear for a run, when a key is given. */
export function linearFor(
  apiKey: string | undefined,
  apiUrl: string | undefined,
): LinearGateway | undefined {
  if (!apiKey) return undefined;
  return createLinearGateway({ apiKey, ...(apiUrl ? { apiUrl } : {}) });
}

import { readFileSync } from "node:fs";

/** The event that started a workflow run, as the Action sees it. */
export interface TriggerEvent {
  name: string;
  payload: unknown;
}

/**
 * `github.event_name` and its payload (GITHUB_EVENT_NAME, the JSON file at GITHUB_EVENT_PATH),
 * so a standalone run can start the `on:` tasks that event matches. Null outside a workflow or
 * when the file cannot be read (then no `on:` task runs; scheduled ones still do).
 */
export function readTriggerEvent(env: Record<string, string | undefined>): TriggerEvent | null {
  const name = env.GITHUB_EVENT_NAME;
  const path = env.GITHUB_EVENT_PATH;
  if (!name || !path) return null;
  try {
    return { name, payload: JSON.parse(readFileSync(path, "utf8")) as unknown };
  } catch {
    return null;
  }
}

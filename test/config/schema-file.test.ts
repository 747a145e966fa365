import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { SCHEMA_FILE, renderSchema } from "../../scripts/gen-schema.js";

describe("schema/bg-agent.schema.json", () => {
  it("is up to date with src/config/schema.ts (run `npm run schema`)", () => {
    expect(readFileSync(SCHEMA_FILE, "utf8")).toBe(renderSchema());
  });

  it("describes every top-level key and each task's fields", () => {
    const doc = JSON.parse(renderSchema()) as {
      properties: Record<string, { items?: { properties: Record<string, unknown> } }>;
    };
    expect(Object.keys(doc.properties)).toEqual(
      expect.arrayContaining([
        "_extends",
        "tech_debt",
        "automerge",
        "tasks",
        "budget",
        "rate_limit",
        "activity",
        "commands",
        "worker",
      ]),
    );
    expect(Object.keys(doc.properties.tasks?.items?.properties ?? {})).toEqual(
      expect.arrayContaining(["name", "prompt", "every", "cron", "idle", "notify", "report_to"]),
    );
  });
});

/**
 * Writes schema/bg-agent.schema.json, the JSON Schema of `.github/bg-agent.yml` for editors
 * (`# yaml-language-server: $schema=...`), from the zod schema. `npm run schema`; a test checks
 * the committed file is up to date.
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { editorSchema } from "../src/config/schema.js";

export const SCHEMA_FILE = fileURLToPath(
  new URL("../schema/bg-agent.schema.json", import.meta.url),
);

/** The schema text, as committed. */
export function renderSchema(): string {
  const json = z.toJSONSchema(editorSchema, { io: "input", unrepresentable: "any" });
  const properties = {
    _extends: {
      type: "string",
      description:
        "Inherit settings from another repository's file (Probot's _extends), e.g. `.github` or `my-org/.github:bg-agent.yml`.",
    },
    ...((json as { properties?: Record<string, unknown> }).properties ?? {}),
  };
  const doc = {
    ...json,
    properties,
    $id: "https://raw.githubusercontent.com/bg-agent/bg-agent/main/schema/bg-agent.schema.json",
    title: "bg-agent configuration (.github/bg-agent.yml)",
    description: "Configuration of bg-agent for one repository. See docs/configuration.md.",
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(SCHEMA_FILE, renderSchema());
  console.log(`wrote ${SCHEMA_FILE}`);
}

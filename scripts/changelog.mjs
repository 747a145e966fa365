#!/usr/bin/env node
// The release's changelog: `node scripts/changelog.mjs vX.Y.Z [NOTES_FILE]` turns CHANGELOG.md's
// "## Unreleased" section into "## vX.Y.Z (YYYY-MM-DD)" under a fresh, empty Unreleased section,
// and writes that section's text to NOTES_FILE (the GitHub release's notes). Exit 1 when the tag
// is not vX.Y.Z, already has a section, or Unreleased is empty (a release says what changed).
import { readFileSync, writeFileSync } from "node:fs";

/** The new CHANGELOG.md text and the release notes for `tag` released on `date`. */
export function cutRelease(text, tag, date) {
  if (!/^v\d+\.\d+\.\d+$/.test(tag)) throw new Error(`not a release tag: ${tag}`);
  if (text.includes(`\n## ${tag} `))
    throw new Error(`CHANGELOG.md already has a section for ${tag}`);
  const m = /\n## Unreleased\n([\s\S]*?)(?=\n## |$)/.exec(text);
  if (!m) throw new Error("CHANGELOG.md has no '## Unreleased' section");
  const notes = m[1].trim();
  if (!notes)
    throw new Error("CHANGELOG.md's Unreleased section is empty: say what this release changes");
  const cut = `\n## Unreleased\n\n## ${tag} (${date})\n\n${notes}\n`;
  return { text: text.slice(0, m.index) + cut + text.slice(m.index + m[0].length), notes };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop())) {
  const [tag, notesFile] = process.argv.slice(2);
  try {
    const r = cutRelease(
      readFileSync("CHANGELOG.md", "utf8"),
      tag ?? "",
      new Date().toISOString().slice(0, 10),
    );
    writeFileSync("CHANGELOG.md", r.text);
    if (notesFile) writeFileSync(notesFile, `${r.notes}\n`);
    console.log(`CHANGELOG.md: Unreleased is now ${tag}`);
  } catch (e) {
    console.error(`changelog: ${e.message}`);
    process.exit(1);
  }
}

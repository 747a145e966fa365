import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
// @ts-expect-error: a plain ES module script without types (scripts/changelog.mjs)
import { cutRelease } from "../scripts/changelog.mjs";

const root = join(import.meta.dirname, "..");
const read = (p: string): string => readFileSync(join(root, p), "utf8");
const cut = cutRelease as (
  text: string,
  tag: string,
  date: string,
) => { text: string; notes: string };

describe("ready to publish", () => {
  it("LICENSE is the license package.json names", () => {
    const pkg = JSON.parse(read("package.json")) as { license: string };
    expect(pkg.license).toBe("MIT");
    expect(read("LICENSE")).toMatch(/^MIT License\n/);
  });

  it("the release turns CHANGELOG's Unreleased into the tag's section and its notes", () => {
    const text =
      "# Changelog\n\nintro\n\n## Unreleased\n\n- a fix\n\n## v0.1.0 (2026-01-01)\n\n- first\n";
    const r = cut(text, "v0.2.0", "2026-12-06");
    expect(r.notes).toBe("- a fix");
    expect(r.text).toBe(
      "# Changelog\n\nintro\n\n## Unreleased\n\n## v0.2.0 (2026-12-06)\n\n- a fix\n\n## v0.1.0 (2026-01-01)\n\n- first\n",
    );
    expect(() => cut(r.text, "v0.3.0", "2026-12-07")).toThrow(/Unreleased section is empty/);
    expect(() => cut(text, "v0.1.0", "2026-12-07")).toThrow(/already has a section/);
    expect(() => cut(text, "latest", "2026-12-07")).toThrow(/not a release tag/);
    // The committed changelog can be cut.
    expect(cut(read("CHANGELOG.md"), "v9.9.9", "2026-12-06").notes).not.toBe("");
  });

  it("CI tests Node 20, 22 and 24; the image runs a maintained line; engines is what CI tests", () => {
    const ci = parse(read(".github/workflows/ci.yml")) as {
      jobs: { check: { strategy: { matrix: { node: number[] } } } };
    };
    expect(ci.jobs.check.strategy.matrix.node).toEqual([20, 22, 24]);
    const froms = read("Dockerfile").match(/^FROM\s+node:(\d+)/gm) ?? [];
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const f of froms) expect(f).toMatch(/node:(22|24)$/);
    const pkg = JSON.parse(read("package.json")) as { engines: { node: string } };
    expect(pkg.engines.node).toBe(">=20.18");
    expect(Number(process.versions.node.split(".")[0])).toBeGreaterThanOrEqual(20);
  });
});

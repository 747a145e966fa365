import { describe, expect, it } from "vitest";
import { analysisRequest } from "../../src/processors/analysis/prompt.js";
import { prefixMessages as fixPrefix } from "../../src/processors/fix/prompt.js";

describe("the shared cacheable prefix", () => {
  it("a fix starts with the very same message as every analysis call, so providers cache it", () => {
    const context = "# Project octo/demo\n\nREADME…\n";
    const a = analysisRequest(
      context,
      [{ key: "octo/demo#1", title: "t", body: "b" }],
      "json_schema",
    );
    const b = analysisRequest(
      context,
      [{ key: "octo/demo#2", title: "u", body: "c" }],
      "json_object",
    );
    const fix = fixPrefix(context);
    expect(fix[0]).toEqual(a.messages[0]);
    expect(b.messages.slice(0, 2)).toEqual(a.messages.slice(0, 2));
    expect(String(a.messages[0]!.content)).toContain(context);
  });
});

import { describe, expect, it } from "vitest";
import { lazyChild, memoryLogger } from "../../src/log.js";
import type { Logger } from "../../src/log.js";

/** A pino-like parent: counts the children it builds, logs only at `level` and above. */
function parentAt(level: "debug" | "info" | "warn") {
  const order = ["debug", "info", "warn", "error"];
  const mem = memoryLogger();
  let children = 0;
  const parent: Logger & { isLevelEnabled(l: string): boolean } = {
    ...mem,
    isLevelEnabled: (l) => order.indexOf(l) >= order.indexOf(level),
    child: (b) => {
      children++;
      return mem.child(b);
    },
  };
  return { parent, lines: mem.lines, children: () => children };
}

describe("per-delivery loggers", () => {
  it("below the configured level nothing is built and nothing is logged", () => {
    const p = parentAt("warn");
    const log = lazyChild(p.parent, { delivery: "d1" }).child({ repo: "octo/demo" });
    log.info("automerge evaluation queued");
    log.debug({ pr: 7 }, "skip");
    expect(p.children()).toBe(0);
    expect(p.lines).toEqual([]);
  });

  it("the first line at an enabled level carries every binding, through one child", () => {
    const p = parentAt("info");
    const log = lazyChild(p.parent, { delivery: "d1" })
      .child({ repo: "octo/demo" })
      .child({ pr: 7 });
    log.info({ queued: 1 }, "automerge evaluation queued");
    log.warn("later line");
    expect(p.children()).toBe(1);
    expect(p.lines).toEqual([
      {
        level: "info",
        msg: "automerge evaluation queued",
        obj: { delivery: "d1", repo: "octo/demo", pr: 7, queued: 1 },
      },
      { level: "warn", msg: "later line", obj: { delivery: "d1", repo: "octo/demo", pr: 7 } },
    ]);
  });

  it("a parent that cannot tell its level gets every line", () => {
    const mem = memoryLogger();
    lazyChild(mem, { delivery: "d2" }).debug("kept");
    expect(mem.lines).toEqual([{ level: "debug", msg: "kept", obj: { delivery: "d2" } }]);
  });
});

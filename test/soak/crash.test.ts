import { describe, expect, it } from "vitest";
import { crashMidStream } from "../reliability/crash-harness.js";

// The 2,000-delivery variant of test/reliability/intake-crash.test.ts (npm run test:soak).
const N = 2000;

describe("soak: the app process SIGKILLed with 2,000 deliveries in flight", () => {
  for (const mode of ["cold", "warm"] as const) {
    it(`injects: SIGKILL (1 time) with ${N} deliveries in flight, ${mode} config cache — lost 0, done twice 0, integrity ok`, async () => {
      const r = await crashMidStream(N, mode);
      console.log(JSON.stringify({ mode, ...r }));
      expect(r.acknowledged).toBeGreaterThan(0);
      expect(r.acknowledged).toBeLessThan(N);
      expect(r).toMatchObject({
        acknowledgedLost: 0,
        halfWritten: 0,
        processedTwice: 0,
        redeliveryErrors: 0,
        lost: 0,
        twice: 0,
        tasks: N,
        records: N,
        integrity: ["ok"],
      });
    }, 300_000);
  }
});

import fc from "fast-check";
import nock from "nock";
import { afterEach, beforeAll } from "vitest";

// Property tests: a fixed seed in `npm test`, so CI is repeatable; `npm run test:fuzz` (FC_SEED=random)
// explores new inputs, and FC_SEED=<n> replays the seed a failure printed.
const seed = process.env.FC_SEED ?? "20261206";
if (seed !== "random") fc.configureGlobal({ seed: Number(seed) });

beforeAll(() => {
  nock.disableNetConnect();
  // Servers the tests start themselves listen on loopback.
  nock.enableNetConnect((host) => /^(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/.test(host));
});

afterEach(() => {
  nock.cleanAll();
});

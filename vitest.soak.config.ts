import { defineConfig } from "vitest/config";

/** Long-running tests (npm run test:soak): not part of `npm test`. */
export default defineConfig({
  test: {
    include: ["test/soak/**/*.test.ts"],
    setupFiles: ["test/helpers/setup.ts"],
    testTimeout: 600_000,
    hookTimeout: 60_000,
    pool: "forks",
    typecheck: { enabled: false },
  },
});

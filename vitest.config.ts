import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Long runs: npm run test:soak (vitest.soak.config.ts).
    exclude: ["test/soak/**", "**/node_modules/**"],
    setupFiles: ["test/helpers/setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: "forks",
    typecheck: { enabled: false },
  },
});

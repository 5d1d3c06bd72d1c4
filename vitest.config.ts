import { defineConfig } from "vitest/config";

const sources = ["apps/**", "libs/**", "test/**", "bench/**"].map((dir) => `${dir}/*.test.ts`);

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: training tests are CPU-bound, so more parallel forks only slow each other down.
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: { name: "unit", include: sources, exclude: ["**/*.int.test.ts", "**/node_modules/**"] },
      },
      {
        // Integration tests talk to real Postgres, Redis and S3: the global setup provides an isolated
        // database, Redis prefix and bucket for this run, and removes them afterwards.
        extends: true,
        test: {
          name: "integration",
          include: sources.map((glob) => glob.replace(".test.ts", ".int.test.ts")),
          globalSetup: ["test/global-setup.ts"],
          setupFiles: ["test/setup-env.ts"],
        },
      },
    ],
  },
});

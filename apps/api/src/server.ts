import { probeBucket } from "@plateau/storage";
import { type App, createApp } from "./app";
import type { ApiDeps } from "./deps";
import { healthRoutes } from "./routes/health";

/** The API with all its routes, ready for `listen` (main.ts) or `inject` (tests). */
export async function buildServer(deps: ApiDeps): Promise<App> {
  const app = await createApp(deps.config, deps.log);
  await app.register(healthRoutes, {
    timeoutMs: deps.config.READY_TIMEOUT_MS,
    checks: {
      postgres: () => deps.db.$queryRaw`SELECT 1`,
      redis: () => deps.redis.ping(),
      s3: (signal) => probeBucket(deps.storage, signal),
    },
  });
  return app;
}

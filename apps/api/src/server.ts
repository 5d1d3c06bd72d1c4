import { redisReady } from "@plateau/queue";
import { probeBucket } from "@plateau/storage";
import { type App, createApp } from "./app";
import { installAuth } from "./auth";
import type { ApiDeps } from "./deps";
import { installPrometheus } from "./prometheus";
import { installRateLimit } from "./rate-limit";
import { installJobLogContext } from "./request-log";
import { adminRoutes } from "./routes/admin";
import { callbackRoutes } from "./routes/callbacks";
import { checkpointRoutes } from "./routes/checkpoints";
import { dashboardRoutes } from "./routes/dashboard";
import { datasetRoutes } from "./routes/datasets";
import { eventRoutes } from "./routes/events";
import { healthRoutes } from "./routes/health";
import { jobRoutes } from "./routes/jobs";
import { metricsRoutes } from "./routes/metrics";
import { workerRoutes } from "./routes/workers";

/** The API with all its routes, ready for `listen` (main.ts) or `inject` (tests). */
export async function buildServer(deps: ApiDeps): Promise<App> {
  const app = await createApp(deps.config, deps.log);
  installAuth(app, { db: deps.db, adminKey: deps.config.ADMIN_API_KEY });
  installPrometheus(app, deps);
  installJobLogContext(app);
  await installRateLimit(app, deps);
  await app.register(healthRoutes, {
    timeoutMs: deps.config.READY_TIMEOUT_MS,
    checks: {
      postgres: () => deps.db.$queryRaw`SELECT 1`,
      // A connection still being made (just after start, or reconnecting) is waited for, within the check's time.
      redis: () => redisReady(deps.redis, deps.config.READY_TIMEOUT_MS).then(() => deps.redis.ping()),
      s3: (signal) => probeBucket(deps.storage, signal),
    },
  });
  for (const routes of [
    adminRoutes,
    jobRoutes,
    metricsRoutes,
    eventRoutes,
    checkpointRoutes,
    datasetRoutes,
    callbackRoutes,
    dashboardRoutes,
    workerRoutes,
  ]) {
    await app.register(routes, deps);
  }
  return app;
}

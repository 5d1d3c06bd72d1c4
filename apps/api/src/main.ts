import { loadConfig } from "@plateau/config";
import { reportEvictionPolicy } from "@plateau/queue";
import { ensureBucket } from "@plateau/storage";
import { closeDeps, createDeps } from "./deps";
import { startReconciler } from "./reconcile";
import { buildServer } from "./server";

// In-flight requests get this long to finish after SIGTERM before the process exits anyway.
const SHUTDOWN_GRACE_MS = 10_000;

const config = loadConfig();
const deps = createDeps(config);
const { log } = deps;
const app = await buildServer(deps);

// The bucket is created here when missing; if S3 is down the API still starts and /readyz says so.
await ensureBucket(deps.storage).catch((error) => log.warn({ err: error }, "could not ensure the S3 bucket"));
await reportEvictionPolicy(deps.redis, 5_000, log);
await app.listen({ host: config.API_HOST, port: config.API_PORT });
const stopReconciler = startReconciler(deps);

let stopping = false;
async function shutdown(signal: NodeJS.Signals) {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, "shutting down: no new connections, finishing in-flight requests");
  const deadline = setTimeout(() => {
    log.error({ graceMs: SHUTDOWN_GRACE_MS }, "shutdown took too long; exiting");
    process.exit(1);
  }, SHUTDOWN_GRACE_MS);
  deadline.unref();
  try {
    await app.close();
    await stopReconciler();
    await closeDeps(deps);
    log.info("shut down cleanly");
  } catch (error) {
    log.error({ err: error }, "error during shutdown");
    process.exitCode = 1;
  }
}
process.once("SIGTERM", shutdown);
process.once("SIGINT", shutdown);

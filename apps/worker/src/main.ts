import { hostname } from "node:os";
import { loadConfig } from "@plateau/config";
import { createDb } from "@plateau/db";
import { createRedis, createTrainingWorker, TRAINING_QUEUE } from "@plateau/queue";
import { createStorage, ensureBucket } from "@plateau/storage";
import { selectBackend } from "@plateau/training";
import { pino } from "pino";
import { relayCancels } from "./cancel";
import { createProcessor } from "./processor";

// Running jobs get this long to finish after SIGTERM; after that the worker closes anyway, their locks
// lapse and another worker resumes them (BullMQ's stalled-job recovery).
const SHUTDOWN_GRACE_MS = 20_000;

const config = loadConfig();
const workerName = `${hostname()}:${process.pid}`;
const log = pino({ level: config.LOG_LEVEL, base: { service: "worker", worker: workerName } });

const backend = await selectBackend(config.TFJS_BACKEND, { log: (message) => log.info(message) });
log.info(
  { backend: backend.name, tried: backend.report, cpuFallbacks: backend.cpuFallbacks },
  "tfjs backend selected",
);

const db = createDb(config.DATABASE_URL);
const storage = createStorage(config);
await ensureBucket(storage);
const publisher = createRedis(config, "publisher");
publisher.on("error", (error) => log.warn({ err: error }, "event publisher connection error"));

const processor = createProcessor({ config, log, backend, workerName, db, storage, publisher });
const worker = createTrainingWorker(config, processor, { name: workerName });
worker.on("error", (error) => log.warn({ err: error }, "queue connection error"));
worker.on("failed", (job, error) => log.error({ jobId: job?.id, err: error }, "job attempt failed"));
const stopRelayingCancels = await relayCancels(config, worker, log);
await worker.waitUntilReady();
log.info({ queue: TRAINING_QUEUE, concurrency: config.WORKER_CONCURRENCY }, "worker ready");

let stopping = false;
async function shutdown(signal: NodeJS.Signals) {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, "shutting down: taking no new jobs, letting running ones finish");
  // BullMQ's close() cannot be forced once started, so the deadline ends the process itself.
  const deadline = setTimeout(() => {
    log.warn(
      { graceMs: SHUTDOWN_GRACE_MS },
      "running jobs did not finish in time; leaving them to another worker",
    );
    process.exit(1);
  }, SHUTDOWN_GRACE_MS);
  try {
    await worker.close();
    await stopRelayingCancels();
    await publisher.quit().catch(() => publisher.disconnect());
    await db.$disconnect();
    storage.client.destroy();
    log.info("shut down cleanly");
  } catch (error) {
    log.error({ err: error }, "error during shutdown");
    process.exitCode = 1;
  } finally {
    clearTimeout(deadline);
  }
}
process.once("SIGTERM", shutdown);
process.once("SIGINT", shutdown);

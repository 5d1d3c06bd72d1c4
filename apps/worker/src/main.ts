import { hostname } from "node:os";
import { loadConfig } from "@plateau/config";
import { createDb } from "@plateau/db";
import { createRedis, createTrainingWorker, reportEvictionPolicy, TRAINING_QUEUE } from "@plateau/queue";
import { createStorage, ensureBucket } from "@plateau/storage";
import { pino } from "pino";
import { relayCancels } from "./cancel";
import { deviceOf, startObservability } from "./observability";
import { createProcessor } from "./processor";
import { WorkerTelemetry } from "./telemetry";
import { TrainerPool } from "./trainer/process";

// After SIGTERM, running jobs stop at their next batch end and go back to the queue, where another worker
// resumes them from their last snapshot. A batch that takes longer than this is not waited for: the
// worker exits, and the job's lock lapses within seconds (TRAINING_WORKER_SETTINGS).
const SHUTDOWN_GRACE_MS = 20_000;

const config = loadConfig();
const workerName = `${hostname()}:${process.pid}`;
const log = pino({ level: config.LOG_LEVEL, base: { service: "worker", worker: workerName } });

// Each job trains in a process of its own; one is kept started ahead, so its backend is known now.
const trainers = new TrainerPool({
  backend: config.TFJS_BACKEND,
  onWarning: (message) => log.info(message),
});
const { backend, tried, cpuFallbacks } = (await trainers.refill())!;
log.info({ backend, tried, cpuFallbacks }, "tfjs backend selected");
const telemetry = new WorkerTelemetry({ backend, device: deviceOf(backend, config) });

const db = createDb(config.DATABASE_URL);
const storage = createStorage(config);
await ensureBucket(storage);
const publisher = createRedis(config, "publisher");
publisher.on("error", (error) => log.warn({ err: error }, "event publisher connection error"));
await reportEvictionPolicy(publisher, 5_000, log);

const processor = createProcessor({ config, log, trainers, workerName, db, storage, publisher, telemetry });
const worker = createTrainingWorker(config, processor, { name: workerName });
worker.on("error", (error) => log.warn({ err: error }, "queue connection error"));
worker.on("failed", (job, error) => log.error({ job_id: job?.id, err: error }, "job attempt failed"));
worker.on("lockRenewalFailed", (jobIds) => {
  log.error({ job_ids: jobIds }, "could not renew the queue's lock: stopping those jobs' training");
  processor.loseLocks(jobIds);
});
const observability = await startObservability({
  config,
  log,
  redis: publisher,
  worker,
  workerName,
  telemetry,
});
const stopRelayingCancels = await relayCancels(config, worker, log);
await worker.waitUntilReady();
log.info({ queue: TRAINING_QUEUE, concurrency: config.WORKER_CONCURRENCY }, "worker ready");

let stopping = false;
async function shutdown(signal: NodeJS.Signals) {
  if (stopping) {
    log.warn({ signal }, "second signal: exiting now");
    process.exit(1);
  }
  stopping = true;
  log.info({ signal }, "shutting down: taking no new jobs, handing running ones back to the queue");
  trainers.close();
  processor.handBack();
  // BullMQ's close() cannot be forced once started, so the deadline ends the process itself.
  const deadline = setTimeout(() => {
    log.warn(
      { graceMs: SHUTDOWN_GRACE_MS },
      "running jobs did not reach a batch end in time; their locks lapse and another worker resumes them",
    );
    process.exit(1);
  }, SHUTDOWN_GRACE_MS);
  try {
    await worker.close();
    await observability.stop();
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
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);

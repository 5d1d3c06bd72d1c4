import { hostname } from "node:os";
import type { Config } from "@plateau/config";
import { type TrainingJob, type TrainingJobData, WorkerHeartbeat } from "@plateau/queue";
import type { Worker } from "bullmq";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { type MetricsServer, serveMetrics } from "./metrics-server";
import type { WorkerTelemetry } from "./telemetry";

export interface Observability {
  /** The metrics server, when WORKER_METRICS_PORT is set. */
  server: MetricsServer | null;
  /** Leaves the registry and closes the metrics server. */
  stop(): Promise<void>;
}

/** The device a worker reports: WORKER_DEVICE when set, else what the backend runs on. */
export function deviceOf(backend: string, config: Pick<Config, "WORKER_DEVICE">): string {
  return config.WORKER_DEVICE || (backend === "tensorflow-gpu" ? "gpu" : "cpu");
}

/** Seconds a job waited before its first attempt started; null for a retry or a taken-over job. */
function queuedSeconds(job: TrainingJob): number | null {
  const firstAttempt = job.attemptsMade === 0 && !job.stalledCounter;
  return firstAttempt && job.processedOn ? (job.processedOn - job.timestamp) / 1000 : null;
}

/**
 * What a worker tells the fleet about itself: its heartbeat in the Redis registry (GET /v1/workers, with
 * the jobs it trains), the Prometheus metrics of `telemetry` and its health, over the BullMQ worker's own
 * job events. The processor records training figures on the same `telemetry`.
 */
export async function startObservability<Result>(deps: {
  config: Config;
  log: Logger;
  /** A connection that fails fast (purpose "publisher"): a heartbeat must not wait for Redis forever. */
  redis: Redis;
  worker: Worker<TrainingJobData, Result>;
  workerName: string;
  telemetry: WorkerTelemetry;
}): Promise<Observability> {
  const { config, log, worker, telemetry } = deps;
  const { backend, device } = telemetry.info;
  log.info({ backend, device }, `training on ${device} (${backend})`);
  const heartbeat = new WorkerHeartbeat(
    deps.redis,
    config,
    { id: deps.workerName, host: hostname(), backend, device, startedAt: new Date() },
    (error) => log.warn({ err: error }, "could not write the worker's heartbeat to Redis"),
  );

  // BullMQ's stalled-job check may report another worker's job as failed: only this worker's count.
  const active = new Set<string>();
  worker.on("active", (job: TrainingJob) => {
    if (!job.id || active.has(job.id)) return;
    active.add(job.id);
    heartbeat.jobStarted(job.id);
    telemetry.jobStarted(queuedSeconds(job));
  });
  const ended = (result: "completed" | "failed") => (job: TrainingJob | undefined) => {
    if (!job?.id || !active.delete(job.id)) return;
    heartbeat.jobEnded(job.id);
    telemetry.jobEnded(result);
  };
  worker.on("completed", ended("completed"));
  worker.on("failed", ended("failed"));
  // After the listeners: the worker may take a job while this waits for Redis.
  await heartbeat.start();

  const server =
    config.WORKER_METRICS_PORT > 0
      ? await serveMetrics({
          host: config.WORKER_METRICS_HOST,
          port: config.WORKER_METRICS_PORT,
          registry: telemetry.registry,
          healthy: () => worker.isRunning() && heartbeat.healthy,
        })
      : null;
  if (server) log.info({ url: server.url }, "serving /metrics and /healthz");

  return {
    server,
    stop: async () => {
      await server?.close();
      await heartbeat
        .stop()
        .catch((error) => log.warn({ err: error }, "could not leave the worker registry"));
    },
  };
}

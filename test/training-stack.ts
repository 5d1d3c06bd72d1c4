import { PlateauClient } from "@plateau/client";
import { type Config, loadConfig } from "@plateau/config";
import type { Job } from "@plateau/contract";
import { createRedis, createTrainingWorker } from "@plateau/queue";
import { pino } from "pino";
import { startTestApi, type TestApi } from "../apps/api/src/test-api";
import { relayCancels } from "../apps/worker/src/cancel";
import { createProcessor } from "../apps/worker/src/processor";
import { TrainerPool } from "../apps/worker/src/trainer/process";

/** An API listening on a port and an in-process worker (trainers, cancel relay) on a queue of their own. */
export interface TrainingStack {
  config: Config;
  api: TestApi;
  /** A client of the API with the test tenant's key. */
  client: PlateauClient;
  /** The job once it left queued/running, polled for at most two minutes. */
  finished(id: string): Promise<Job>;
  close(): Promise<void>;
}

export async function startTrainingStack(name: string): Promise<TrainingStack> {
  const base = loadConfig();
  const config = { ...base, REDIS_PREFIX: `${base.REDIS_PREFIX}-${name}`, EVENT_FLUSH_MS: 50 };
  const api = await startTestApi({ REDIS_PREFIX: config.REDIS_PREFIX });
  const client = new PlateauClient({ baseUrl: api.url, apiKey: api.tenant.key });
  const trainers = new TrainerPool({ backend: config.TFJS_BACKEND, onWarning: () => {} });
  const publisher = createRedis(config, "publisher");
  const log = pino({ level: "silent" });
  const { db, storage } = api.deps;
  const processor = createProcessor({ config, log, trainers, workerName: name, db, storage, publisher });
  // The first trainer's start-up (a process, tfjs and its wasm) is not part of any test's time.
  await trainers.refill();
  const worker = createTrainingWorker(config, processor, { name });
  const stopRelay = await relayCancels(config, worker, log);
  return {
    config,
    api,
    client,
    async finished(id) {
      for (let polls = 0; polls < 1200; polls++) {
        const job = await client.getJob(id);
        if (!["queued", "running"].includes(job.status)) return job;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(`job ${id} did not finish in two minutes`);
    },
    async close() {
      await stopRelay();
      await worker.close();
      trainers.close();
      publisher.disconnect();
      await api.close();
    },
  };
}

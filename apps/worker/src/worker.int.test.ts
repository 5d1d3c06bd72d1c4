import { randomUUID } from "node:crypto";
import { loadConfig } from "@plateau/config";
import { createTrainingQueue, enqueueTraining, redisOptions, TRAINING_QUEUE } from "@plateau/queue";
import { BACKEND_ORDER } from "@plateau/training";
import { QueueEvents } from "bullmq";
import { afterAll, describe, expect, it } from "vitest";
import { startWorkerProcess } from "./test-worker-process";

// The worker gets a queue of its own under the run's prefix, so no other test's worker takes our job.
const config = { ...loadConfig(), REDIS_PREFIX: `${loadConfig().REDIS_PREFIX}-worker` };
const queue = createTrainingQueue(config);
// How BullMQ reports a finished job; it reads the events stream over its own blocking connection.
const queueEvents = new QueueEvents(TRAINING_QUEUE, {
  connection: redisOptions(config, "subscriber"),
  prefix: config.REDIS_PREFIX,
});

afterAll(async () => {
  await queueEvents.close();
  await queue.close();
});

describe("worker process", () => {
  it("logs the tfjs backend its trainer loaded, takes a job from the queue, and exits cleanly on SIGTERM", async () => {
    const worker = startWorkerProcess({ REDIS_PREFIX: config.REDIS_PREFIX });
    try {
      const selected = await worker.waitFor("tfjs backend selected");
      expect(BACKEND_ORDER).toContain(selected.backend);
      expect(selected.tried).toEqual(expect.arrayContaining([`${selected.backend}: loaded`]));
      // On wasm, the kernels it lacks run on cpu, and the log says which.
      if (selected.backend === "wasm") expect(selected.cpuFallbacks).toContain("Conv2DBackpropFilter");
      await worker.waitFor("worker ready");

      await queueEvents.waitUntilReady();
      const jobId = randomUUID();
      await enqueueTraining(queue, jobId);
      const result = await (await queue.getJob(jobId))!.waitUntilFinished(queueEvents, 30_000);
      expect(result).toMatchObject({ jobId, backend: selected.backend, worker: selected.worker });

      worker.child.kill("SIGTERM");
      expect(await worker.exited).toBe(0);
      expect(worker.lines.at(-1)?.msg).toBe("shut down cleanly");
    } catch (error) {
      worker.child.kill("SIGKILL");
      throw new Error(`${(error as Error).message}\nworker stderr (end):\n${worker.stderr()}`);
    }
  });
});

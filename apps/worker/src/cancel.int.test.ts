import { randomUUID } from "node:crypto";
import { loadConfig } from "@plateau/config";
import {
  cancelChannel,
  createRedis,
  createTrainingQueue,
  createTrainingWorker,
  enqueueTraining,
} from "@plateau/queue";
import { pino } from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { relayCancels } from "./cancel";

const base = loadConfig();
// A queue of our own under the run's prefix, so no other test's worker takes the job.
const config = { ...base, REDIS_PREFIX: `${base.REDIS_PREFIX}-cancel` };
const queue = createTrainingQueue(config);
const publisher = createRedis(config, "publisher");

afterAll(async () => {
  await queue.close();
  publisher.disconnect();
});

describe("cancel relay", () => {
  it("aborts the running job named on the cancel channel, and ignores ids this worker does not hold", async () => {
    const jobId = randomUUID();
    let started!: () => void;
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    const worker = createTrainingWorker(config, async (_job, _token, signal) => {
      started();
      await new Promise((resolve) => signal?.addEventListener("abort", resolve));
      return { reason: String(signal?.reason) };
    });
    const completed = new Promise((resolve) => worker.on("completed", (_job, result) => resolve(result)));
    const stop = await relayCancels(config, worker, pino({ level: "silent" }));
    try {
      await enqueueTraining(queue, jobId);
      await running;
      await publisher.publish(cancelChannel(config), randomUUID());
      await publisher.publish(cancelChannel(config), jobId);
      expect(await completed).toEqual({ reason: "user_cancel" });
    } finally {
      await stop();
      await worker.close(true);
      await queue.obliterate({ force: true });
    }
  });
});

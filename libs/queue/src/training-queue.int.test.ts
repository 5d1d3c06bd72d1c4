import { randomUUID } from "node:crypto";
import { type Config, loadConfig } from "@plateau/config";
import type { Worker } from "bullmq";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import {
  cancelChannel,
  createRedis,
  createTrainingQueue,
  createTrainingWorker,
  enqueueTraining,
  jobEventsChannel,
  removeQueued,
  type TrainingQueue,
} from "./index";

// A prefix of our own under the run's prefix: the worker process test consumes the run's queue.
const base = loadConfig();
const config: Config = { ...base, REDIS_PREFIX: `${base.REDIS_PREFIX}-queue` };
const queue: TrainingQueue = createTrainingQueue(config);
const redis = createRedis(config, "publisher");
const workers: Worker[] = [];

afterEach(async () => {
  await Promise.all(workers.splice(0).map((worker) => worker.close(true)));
  await queue.obliterate({ force: true });
});

afterAll(async () => {
  await queue.close();
  redis.disconnect();
});

function until<T>(predicate: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = async () => {
      const value = await predicate();
      if (value !== undefined) return resolve(value);
      if (Date.now() > deadline) return reject(new Error("timed out"));
      setTimeout(poll, 50);
    };
    void poll();
  });
}

describe("training queue", () => {
  it("enqueueing the same Plateau job twice keeps one BullMQ job with that id, under the prefix", async () => {
    const jobId = randomUUID();
    await enqueueTraining(queue, jobId);
    await enqueueTraining(queue, jobId);

    expect(await queue.getJobCounts("waiting")).toEqual({ waiting: 1 });
    const job = await queue.getJob(jobId);
    expect(job?.data).toEqual({ jobId });
    expect(job?.opts.attempts).toBe(3);
    expect(await redis.exists(`${config.REDIS_PREFIX}:training:${jobId}`)).toBe(1);
  });

  it("removeQueued removes a waiting job once, and reports unknown ids as not removed", async () => {
    const jobId = randomUUID();
    await enqueueTraining(queue, jobId);
    expect(await removeQueued(queue, jobId)).toBe(true);
    expect(await queue.getJob(jobId)).toBeUndefined();
    expect(await removeQueued(queue, jobId)).toBe(false);
    expect(await removeQueued(queue, randomUUID())).toBe(false);
  });

  it("a running job is not removable, and worker.cancelJob aborts its processor's signal", async () => {
    const jobId = randomUUID();
    let started!: () => void;
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    const worker = createTrainingWorker(config, async (job, _token, signal) => {
      started();
      await new Promise((resolve) => signal?.addEventListener("abort", resolve));
      return { jobId: job.data.jobId, aborted: signal?.aborted, reason: String(signal?.reason) };
    });
    workers.push(worker);
    const completed = new Promise((resolve) => worker.on("completed", (_job, result) => resolve(result)));

    await enqueueTraining(queue, jobId);
    await running;
    expect(await queue.getJobState(jobId)).toBe("active");
    expect(await removeQueued(queue, jobId)).toBe(false);

    expect(worker.cancelJob(jobId, "user_cancel")).toBe(true);
    expect(await completed).toEqual({ jobId, aborted: true, reason: "user_cancel" });
    expect(
      await until(async () => ((await queue.getJobState(jobId)) === "completed" ? true : undefined)),
    ).toBe(true);
  });

  it("names the cancel and per-job event channels under the prefix", async () => {
    const jobId = randomUUID();
    expect(cancelChannel(config)).toBe(`${config.REDIS_PREFIX}:cancel`);
    expect(jobEventsChannel(config, jobId)).toBe(`${config.REDIS_PREFIX}:job:${jobId}:events`);

    const subscriber = createRedis(config, "subscriber");
    const publisher = createRedis(config, "publisher");
    try {
      await subscriber.subscribe(cancelChannel(config));
      const received = new Promise((resolve) =>
        subscriber.on("message", (channel, message) => resolve({ channel, message })),
      );
      await publisher.publish(cancelChannel(config), jobId);
      expect(await received).toEqual({ channel: cancelChannel(config), message: jobId });
    } finally {
      subscriber.disconnect();
      publisher.disconnect();
    }
  });
});

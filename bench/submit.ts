import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import type { JobSpec } from "@plateau/contract";
import { createTrainingQueue, enqueueTraining } from "@plateau/queue";
import { ms, percentile, progress, type Row } from "./report";
import type { Stack } from "./stack";

const REQUESTS = 2000;
const WARMUP = 100;
const CONCURRENCY = 16;

/** The example job: what a client really posts, validated in full (callbacks, monitors, model size). */
const example = JSON.parse(
  readFileSync(new URL("../examples/iris-plateau.json", import.meta.url), "utf8"),
) as JobSpec;

/** `count` calls of `operation`, `concurrency` at a time; the rate per second and each call's latency. */
async function measure(count: number, operation: () => Promise<unknown>) {
  const latencies: number[] = [];
  let started = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (started < count) {
        started += 1;
        const before = performance.now();
        await operation();
        latencies.push(performance.now() - before);
      }
    }),
  );
  return { perSecond: count / ((performance.now() - start) / 1000), latencies };
}

/**
 * POST /v1/jobs over HTTP against the API process vs `queue.add` (same job options) on the same Redis.
 * No worker runs: the jobs stay queued, and are removed from the queue afterwards.
 */
export async function submit(stack: Stack): Promise<Row[]> {
  const post = () => stack.client.submitJob(example);
  const jobs = createTrainingQueue(stack.config);
  const raw = createTrainingQueue({
    ...stack.config,
    REDIS_PREFIX: `${stack.config.REDIS_PREFIX}-raw-submit`,
  });
  try {
    const add = () => enqueueTraining(raw, randomUUID());
    progress(`POST /v1/jobs (the issue's example spec): ${REQUESTS} requests, ${CONCURRENCY} at a time`);
    await measure(WARMUP, post);
    const plateau = await measure(REQUESTS, post);
    progress(
      `Plateau: ${plateau.perSecond.toFixed(0)}/s; POST latency p50 ${ms(percentile(plateau.latencies, 50))}, ` +
        `p99 ${ms(percentile(plateau.latencies, 99))}`,
    );
    progress(`BullMQ queue.add: ${REQUESTS} adds, ${CONCURRENCY} at a time`);
    await measure(WARMUP, add);
    const bullmq = await measure(REQUESTS, add);
    progress(
      `BullMQ: ${bullmq.perSecond.toFixed(0)}/s; add latency p50 ${ms(percentile(bullmq.latencies, 50))}`,
    );
    return [
      {
        benchmark: "submit",
        measure: `jobs accepted per second, ${CONCURRENCY} concurrent (ratio: BullMQ rate / Plateau rate)`,
        plateau: `${plateau.perSecond.toFixed(0)}/s`,
        baseline: `${bullmq.perSecond.toFixed(0)}/s`,
        ratio: bullmq.perSecond / plateau.perSecond,
      },
    ];
  } finally {
    await Promise.allSettled([jobs.obliterate({ force: true }), raw.obliterate({ force: true })]);
    await Promise.allSettled([jobs.close(), raw.close()]);
  }
}

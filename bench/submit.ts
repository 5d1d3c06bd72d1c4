import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import type { JobSpec } from "@plateau/contract";
import { createDb } from "@plateau/db";
import { createTrainingQueue, enqueueTraining } from "@plateau/queue";
import { ms, percentile, progress, type Row } from "./report";
import type { Stack } from "./stack";

const REQUESTS = 2000;
const WARMUP = 100;
const CONCURRENCY = 16;
/** The goal: the API takes at least half the jobs per second that BullMQ alone takes. */
const TARGET = 0.5;

/** The example job: what a client really posts, validated in full (callbacks, monitors, model size). */
const example = JSON.parse(
  readFileSync(new URL("../examples/iris-plateau.json", import.meta.url), "utf8"),
) as JobSpec;

/**
 * CPU time (user + system) a process has used so far, from /proc (Linux): with other processes sharing
 * the cores, what a POST costs the API is steadier than the rate.
 */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  // utime and stime, fields 14 and 15 of proc(5), in clock ticks of 1/100 s.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

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
    const cpuBefore = cpuSeconds(stack.apiPid);
    const plateau = await measure(REQUESTS, post);
    const cpuPerPost = ((cpuSeconds(stack.apiPid) - cpuBefore) * 1000) / REQUESTS;
    progress(
      `Plateau: ${plateau.perSecond.toFixed(0)}/s; POST latency p50 ${ms(percentile(plateau.latencies, 50))}, ` +
        `p99 ${ms(percentile(plateau.latencies, 99))}; the API process's CPU per POST ${ms(cpuPerPost)}; ` +
        `load average ${loadavg()[0].toFixed(2)}`,
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
        measure: `POST /v1/jobs per second, ${CONCURRENCY} in flight, vs raw queue.add (ratio: Plateau rate / BullMQ rate)`,
        plateau: `${plateau.perSecond.toFixed(0)}/s`,
        baseline: `${bullmq.perSecond.toFixed(0)}/s`,
        ratio: plateau.perSecond / bullmq.perSecond,
        target: TARGET,
        atLeast: true,
      },
    ];
  } finally {
    // Rows first: the API's reconciler queues again a `queued` row it finds without a queue entry, and
    // the benchmarks after this one would train two thousand jobs.
    const db = createDb(stack.config.DATABASE_URL);
    await db.job.deleteMany({ where: { status: "queued" } }).finally(() => db.$disconnect());
    await Promise.allSettled([jobs.obliterate({ force: true }), raw.obliterate({ force: true })]);
    await Promise.allSettled([jobs.close(), raw.close()]);
  }
}

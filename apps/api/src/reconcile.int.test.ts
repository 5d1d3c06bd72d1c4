import { randomUUID } from "node:crypto";
import { createJob, eventsAfter, finishJob, getJob } from "@plateau/db";
import { createTrainingWorker, enqueueTraining } from "@plateau/queue";
import { exampleJob } from "@plateau/spec/example";
import { UnrecoverableError } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { faultHarness, type TestRedis, waitFor } from "../../../test/faults";
import { reconcileQueue, startReconciler } from "./reconcile";
import { startTestApi, type TestApi } from "./test-api";

// A redis-server of our own: the test empties it, and the run's Postgres holds other files' unfinished
// jobs, which this file's reconciler may enqueue here without touching anyone's queue.
const faults = faultHarness();
let redis: TestRedis;
let api: TestApi;
let other: TestApi;
beforeAll(async () => {
  redis = await faults.redis();
  api = await startTestApi({ REDIS_URL: redis.url });
  other = await startTestApi({ REDIS_URL: redis.url });
});
afterAll(async () => {
  await Promise.all([api?.close(), other?.close()]);
});

async function storedJob(status: "queued" | "running" = "queued"): Promise<string> {
  const id = randomUUID();
  await createJob(api.deps.db, {
    tenantId: api.tenant.id,
    id,
    name: "reconciled",
    spec: exampleJob(),
    epochs: 50,
  });
  if (status === "running") await api.deps.db.job.update({ where: { id }, data: { status: "running" } });
  return id;
}

const stateOf = (id: string) => api.deps.queue.getJobState(id);

describe("reconcileQueue", () => {
  it("enqueues a queued job the queue lacks, once, and leaves finished ones out", async () => {
    const lost = await storedJob();
    const done = await storedJob();
    await finishJob(api.deps.db, done, { stopReason: "user_cancel" });

    expect((await reconcileQueue(api.deps))?.enqueued).toContain(lost);
    expect((await reconcileQueue(api.deps))?.enqueued).not.toContain(lost);

    expect(await stateOf(lost)).toBe("waiting");
    expect(await stateOf(done)).toBe("unknown");
  });

  it("leaves a job the queue holds alone, whatever Postgres says", async () => {
    const running = await storedJob("running");
    await enqueueTraining(api.deps.queue, running);
    const report = await reconcileQueue(api.deps);
    expect(report?.enqueued).not.toContain(running);
    expect(report?.failed).not.toContain(running);
    expect((await getJob(api.deps.db, running))?.status).toBe("running");
  });

  it("fails a job the queue gave up on, with the queue's reason and a terminal status event, once across instances", async () => {
    const id = await storedJob("running");
    const worker = createTrainingWorker({ ...api.deps.config, WORKER_CONCURRENCY: 1 }, async () => {
      throw new UnrecoverableError("trainer process killed by signal SIGKILL");
    });
    try {
      await enqueueTraining(api.deps.queue, id);
      await waitFor("the queue to fail the job", async () =>
        (await stateOf(id)) === "failed" ? true : undefined,
      );
    } finally {
      await worker.close(true);
    }

    const reports = await Promise.all([reconcileQueue(api.deps), reconcileQueue(other.deps)]);
    expect(reports.filter((report) => report !== null)).toHaveLength(1);
    expect(reports.find((report) => report !== null)?.failed).toContain(id);
    // A later pass finds nothing left to do for it.
    expect((await reconcileQueue(other.deps))?.failed).not.toContain(id);

    const job = await getJob(api.deps.db, id);
    expect(job).toMatchObject({ status: "failed", stopReason: "error" });
    expect(job?.error).toMatch(
      /^The queue gave up on this job after 1 attempt: trainer process killed by signal SIGKILL$/,
    );
    const statuses = await eventsAfter(api.deps.db, id, 0, { limit: 10, types: ["status"] });
    expect(statuses.map((event) => event.data)).toEqual([
      { status: "failed", stop_reason: "error", error: job?.error },
    ]);
  });
});

describe("startReconciler", () => {
  it("re-enqueues queued and running jobs after Redis restarts without its data, without an API restart", async () => {
    const queued = await storedJob();
    const running = await storedJob("running");
    await Promise.all([enqueueTraining(api.deps.queue, queued), enqueueTraining(api.deps.queue, running)]);

    await redis.flushAndRestart();
    await waitFor("the queue to reconnect to the empty Redis", async () =>
      (await stateOf(queued)) === "unknown" ? true : undefined,
    );

    const stop = startReconciler(api.deps, 200);
    try {
      for (const id of [queued, running]) {
        await waitFor(
          `job ${id} back in the queue`,
          async () => ((await stateOf(id)) === "waiting" ? true : undefined),
          {
            timeoutMs: 20_000,
            intervalMs: 100,
          },
        );
      }
    } finally {
      await stop();
    }
    expect((await getJob(api.deps.db, running))?.status).toBe("running");
  });
});

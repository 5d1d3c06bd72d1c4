import { loadConfig } from "@plateau/config";
import { appendEvents, createDb, createJob, eventsAfter, getJob, type Job, listAttempts } from "@plateau/db";
import { createTrainingQueue, enqueueTraining } from "@plateau/queue";
import { validateJobSpec } from "@plateau/spec";
import { countModelParams, selectBackend } from "@plateau/training";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type FaultProxy,
  faultHarness,
  sleep,
  type TestPostgres,
  type TestRedis,
} from "../../../test/faults";
import { createTestTenant } from "../../../test/tenants";
import { until } from "../../../test/until";
import { startWorkerProcess, type WorkerProcess } from "./test-worker-process";

/**
 * A running job through an outage of each store its worker writes to, one after another, each ≥ 10 s: its
 * Postgres stopped, its S3 answering 500 for everything (a proxy in front of the run's S3 server), its
 * Redis stopped (with an append-only file, as production runs it). The job must finish, with every
 * epoch's metrics stored exactly once.
 */

const faults = faultHarness();
let postgres: TestPostgres;
let redis: TestRedis;
let s3: FaultProxy;
let worker: WorkerProcess;
let db: ReturnType<typeof createDb>;
let queue: ReturnType<typeof createTrainingQueue>;
const config = loadConfig();
const { tf } = await selectBackend(config.TFJS_BACKEND);

beforeAll(async () => {
  [postgres, redis, s3] = await Promise.all([
    faults.postgres(),
    faults.redis({ appendonly: true }),
    faults.proxy(Number(new URL(config.S3_ENDPOINT).port)),
  ]);
  db = createDb(postgres.url);
  queue = createTrainingQueue({ REDIS_URL: redis.url, REDIS_PREFIX: "outages" });
  // Its reconnect failures while Redis is down are the test's doing.
  queue.on("error", () => {});
  worker = startWorkerProcess({
    DATABASE_URL: postgres.url,
    REDIS_URL: redis.url,
    REDIS_PREFIX: "outages",
    S3_ENDPOINT: s3.endpoint,
    EVENT_FLUSH_MS: "50",
    MAX_EVENTS_PER_SECOND: "1000000",
    S3_RETRY_DEADLINE_MS: "120000",
  });
  await worker.waitFor("worker ready", 120_000);
}, 180_000);

afterAll(async () => {
  worker?.child.kill("SIGKILL");
  await queue?.close();
  await db?.$disconnect();
});

/** Polls through the outages: a probe that fails (its store is down) is tried again. */
const throughOutages = { timeoutMs: 150_000, everyMs: 100, retryErrors: true };

const epochsStored = async (jobId: string) =>
  (await eventsAfter(db, jobId, 0, { limit: 100_000, types: ["epoch_end"] })).map((e) => e.epoch);

describe("a running job through Postgres, S3 and Redis outages", () => {
  it("finishes, with every epoch's metrics stored once", async () => {
    const tenant = await createTestTenant(db, "outages");
    const spec = {
      name: "through-outages",
      seed: 5,
      model: {
        layers: [
          { class_name: "Dense", config: { units: 32, activation: "relu", input_shape: [2] } },
          { class_name: "Dense", config: { units: 2, activation: "softmax" } },
        ],
      },
      compile: { optimizer: "adam", loss: "sparse_categorical_crossentropy", metrics: ["accuracy"] },
      data: { source: "builtin", name: "spirals", samples: 800, seed: 1 },
      fit: { epochs: 90, batch_size: 8, validation_split: 0.2 },
      // A checkpoint every epoch: S3 is written all the time.
      callbacks: [{ type: "ModelCheckpoint", filepath: "epoch-{epoch:03d}", save_weights_only: true }],
    };
    const validation = await validateJobSpec(spec, config, (m) => countModelParams(tf, m), tenant.id);
    if (!validation.ok) throw new Error(JSON.stringify(validation.issues));
    const row = await createJob(db, {
      tenantId: tenant.id,
      name: spec.name,
      spec: validation.spec as never,
      epochs: 90,
    });
    await appendEvents(db, [{ jobId: row.id, seq: 1, type: "status", data: { status: "queued" } }]);
    await enqueueTraining(queue, row.id);

    const trainedPast = (epochs: number) =>
      until(
        `${epochs} epochs`,
        async () => ((await epochsStored(row.id)).length >= epochs ? true : null),
        throughOutages,
      );

    await trainedPast(3);
    await postgres.stop();
    await sleep(10_000);
    await postgres.start();

    const before = (await until("Postgres back", () => epochsStored(row.id), throughOutages)).length;
    await trainedPast(before + 2);
    await s3.setMode("http500");
    await sleep(10_000);
    await s3.setMode("pass");

    const then = (await epochsStored(row.id)).length;
    await trainedPast(then + 2);
    await redis.stop();
    await sleep(10_000);
    await redis.start();

    const ended = (await until(
      "the job to end",
      async () => {
        const job = await getJob(db, row.id);
        return job && ["succeeded", "failed", "cancelled"].includes(job.status) ? job : null;
      },
      throughOutages,
    )) as Job;
    expect([ended.status, ended.error]).toEqual(["succeeded", null]);
    const epochs = await epochsStored(row.id);
    // Lost 0, duplicated 0: every epoch once, in order.
    expect(epochs).toEqual(Array.from({ length: 90 }, (_, i) => i));
    const checkpoints = await db.checkpoint.count({ where: { jobId: row.id } });
    expect(checkpoints).toBe(90);
    console.log(
      `outages: attempts ${(await listAttempts(db, row.id)).map((a) => a.ending).join(", ")}; epoch_end rows ${epochs.length}/90; checkpoints ${checkpoints}/90`,
    );
  }, 400_000);
});

import { loadConfig } from "@plateau/config";
import { createDb, createJob } from "@plateau/db";
import { createStorage, ensureBucket } from "@plateau/storage";
import * as tf from "@tensorflow/tfjs";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { countOf, parseExposition } from "../../../test/prometheus-text";
import { createTestTenant } from "../../../test/tenants";
import { S3ArtifactSink } from "./artifact-sink";
import { EventLog } from "./event-log";
import { WorkerTelemetry } from "./telemetry";
import { captureArtifacts } from "./trainer/capture";

const config = loadConfig();
const db = createDb(config.DATABASE_URL);
const storage = createStorage(config);
beforeAll(async () => {
  await tf.setBackend("cpu");
  await ensureBucket(storage);
});
afterAll(async () => {
  await db.$disconnect();
  storage.client.destroy();
});

describe("S3ArtifactSink", () => {
  it("reports each model upload's size and time to the worker's metrics", async () => {
    const tenant = await createTestTenant(db, "artifact-sink");
    const job = await createJob(db, { tenantId: tenant.id, name: "sink", spec: {}, epochs: 1 });
    const events = await EventLog.open({
      db,
      publisher: null,
      channel: "unused",
      jobId: job.id,
      flushMs: 20,
      flushRows: 500,
      log: pino({ level: "silent" }),
    });
    const telemetry = new WorkerTelemetry({ backend: "cpu", device: "cpu" });
    const sink = new S3ArtifactSink({ storage, db, jobId: job.id, events, retryDeadlineMs: 1000, telemetry });
    const model = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [4] })] });

    const { sizeBytes } = await sink.saveFinalModel(await captureArtifacts(model, false));
    await events.close();

    const metrics = parseExposition(await telemetry.registry.metrics());
    expect(sizeBytes).toBeGreaterThan(15 * 4); // 15 float32 weights, and model.json
    expect(countOf(metrics, "plateau_worker_checkpoint_size_bytes")).toBe(1);
    const sum = metrics
      .get("plateau_worker_checkpoint_size_bytes")
      ?.samples.find((s) => s.name.endsWith("_sum"));
    expect(sum?.value).toBe(sizeBytes);
    expect(countOf(metrics, "plateau_worker_checkpoint_upload_duration_seconds")).toBe(1);
  });
});

import { ApiError, type PlateauClient } from "@plateau/client";
import { loadConfig } from "@plateau/config";
import type { JobSpec, MetricsRow } from "@plateau/contract";
import { createJob } from "@plateau/db";
import { exampleJob } from "@plateau/spec/example";
import { selectBackend } from "@plateau/training";
import type { LayersModel, Tensor } from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestApi } from "../apps/api/src/test-api";
import { startTrainingStack, type TrainingStack } from "./training-stack";

/**
 * The model a job ends with and the files it writes, through HTTP: the API listening on a port and a
 * worker on the same queue, observed as a user would (model_url loaded with tf.loadLayersModel).
 */

const { tf } = await selectBackend(loadConfig().TFJS_BACKEND);
let stack: TrainingStack;
let api: TestApi;
let client: PlateauClient;

beforeAll(async () => {
  stack = await startTrainingStack("final-model");
  ({ api, client } = stack);
});

afterAll(async () => {
  await stack?.close();
});

// y = 2·x0 − x1 + 0.5·x2, on a fixed grid: the same rows every run.
const row = (i: number) => [Math.sin(i), Math.cos(i * 0.7), ((i % 7) - 3) / 3];
const target = ([a, b, c]: number[]) => 2 * a - b + 0.5 * c;
const x = Array.from({ length: 64 }, (_, i) => row(i));
const validationX = Array.from({ length: 16 }, (_, i) => row(i + 100));

function regressionJob(epochs: number, callbacks: unknown[]): JobSpec {
  return {
    name: "final-model",
    model: {
      layers: [
        { class_name: "Dense", config: { units: 8, activation: "tanh", input_shape: [3] } },
        { class_name: "Dense", config: { units: 1 } },
      ],
    },
    compile: { optimizer: { name: "adam", learning_rate: 0.05 }, loss: "mse", metrics: ["mae"] },
    data: {
      source: "inline",
      x,
      y: x.map(target),
      validation: { source: "inline", x: validationX, y: validationX.map(target) },
    },
    fit: { epochs, batch_size: 16, shuffle: false },
    callbacks,
  } as unknown as JobSpec;
}

const finished = (id: string) => stack.finished(id);

async function epochRows(id: string): Promise<MetricsRow[]> {
  return (await client.metrics(id, { after: 0, limit: 1000 })).items;
}

/** The model's mse on the validation rows, as tfjs's val_loss computes it. */
async function validationLoss(model: LayersModel): Promise<number> {
  const xs = tf.tensor2d(validationX);
  const ys = tf.tensor2d(validationX.map(target), [validationX.length, 1]);
  const loss = model.evaluate(xs, ys) as Tensor[];
  const value = (await loss[0].data())[0];
  tf.dispose([xs, ys, ...loss]);
  return value;
}

describe("the model a job ends with", () => {
  it("is stored without ModelCheckpoint, loads from model_url and carries its training config", async () => {
    const { id } = await client.submitJob(regressionJob(6, []));
    const job = await finished(id);
    expect(job).toMatchObject({ status: "succeeded", stop_reason: "completed" });
    await expect(client.bestCheckpoint(id)).rejects.toMatchObject({ status: 404 });

    const final = await client.finalModel(id);
    expect(final.model_url).toBe(
      `${api.url}/v1/jobs/${id}/model/model.json?${new URL(final.model_url).searchParams}`,
    );
    const model = await tf.loadLayersModel(final.model_url);
    // The last epoch's val_loss was computed with the weights the job ended with.
    const rows = await epochRows(id);
    expect(rows).toHaveLength(6);
    expect(await validationLoss(model)).toBeCloseTo(rows[5].logs.val_loss as number, 5);
    // Compiled from the stored training config (loss and optimizer): fit continues without compile().
    expect(model.optimizer.getClassName()).toBe("Adam");
    const xs = tf.tensor2d(x);
    const ys = tf.tensor2d(x.map(target), [x.length, 1]);
    const history = await model.fit(xs, ys, { epochs: 1, batchSize: 16, shuffle: false });
    expect(Number.isFinite(history.history.loss[0] as number)).toBe(true);
    tf.dispose([xs, ys]);
    model.dispose();
  });

  it("keeps topology and weights when tfjs cannot carry the training config (a hinge loss)", async () => {
    const spec = regressionJob(2, []) as unknown as { compile: Record<string, unknown> };
    spec.compile = { ...spec.compile, loss: "hinge" };
    const { id } = await client.submitJob(spec as unknown as JobSpec);
    expect(await finished(id)).toMatchObject({ status: "succeeded" });
    const model = await tf.loadLayersModel((await client.finalModel(id)).model_url);
    expect(model.countParams()).toBe(3 * 8 + 8 + 8 + 1);
    expect(model.optimizer).toBeUndefined();
    model.dispose();
  });

  it("holds the best epoch's weights after EarlyStopping(restore_best_weights=True)", async () => {
    // mode "max" on a falling val_loss: an early epoch stays best and training stops two epochs later.
    const earlyStopping = {
      type: "EarlyStopping",
      monitor: "val_loss",
      mode: "max",
      patience: 2,
      restore_best_weights: true,
    };
    const { id } = await client.submitJob(regressionJob(20, [earlyStopping]));
    const job = await finished(id);
    expect(job).toMatchObject({ status: "succeeded", stop_reason: "early_stopping" });
    const losses = (await epochRows(id)).map((r) => r.logs.val_loss as number);
    const best = losses.indexOf(Math.max(...losses));
    expect(losses).toHaveLength(best + 3);
    const last = losses[losses.length - 1];

    const model = await tf.loadLayersModel((await client.finalModel(id)).model_url);
    const loss = await validationLoss(model);
    expect(loss).toBeCloseTo(losses[best], 5);
    expect(Math.abs(loss - last)).toBeGreaterThan(1e-4);
    model.dispose();
  });

  it("is stored for a job a user cancelled after an epoch", async () => {
    const { id } = await client.submitJob(regressionJob(1000, []));
    while ((await client.getJob(id)).epoch === null) await new Promise((resolve) => setTimeout(resolve, 20));
    await client.cancel(id);
    expect(await finished(id)).toMatchObject({ status: "cancelled", stop_reason: "user_cancel" });
    const model = await tf.loadLayersModel((await client.finalModel(id)).model_url);
    expect(model.countParams()).toBe(3 * 8 + 8 + 8 + 1);
    model.dispose();
  });

  it("answers 404 in the error shape, saying why, while a job has none", async () => {
    const queued = await createJob(api.deps.db, {
      tenantId: api.tenant.id,
      name: "never-run",
      spec: exampleJob(),
      epochs: 1,
    });
    const error = await client.finalModel(queued.id).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    const response = await api.inject({ url: `/v1/jobs/${queued.id}/model` });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ error: "no_model", details: [] });
    expect(response.json().message).toContain("status queued");
    expect((await client.files(queued.id)).items).toEqual([]);
  });
});

describe("files a job writes", () => {
  it("lists a CSVLogger file and serves it with the job's epochs", async () => {
    const { id } = await client.submitJob(
      regressionJob(4, [{ type: "CSVLogger", filename: "training.csv" }]),
    );
    expect(await finished(id)).toMatchObject({ status: "succeeded" });
    const { items } = await client.files(id);
    expect(items).toEqual([
      expect.objectContaining({ name: "training.csv", content_type: "text/csv; charset=utf-8" }),
    ]);
    const text = await client.fileText(id, "training.csv");
    expect(items[0].size_bytes).toBe(Buffer.byteLength(text));
    const lines = text.trim().split("\n");
    expect(lines[0].split(",")[0]).toBe("epoch");
    expect(lines.slice(1).map((line) => line.split(",")[0])).toEqual(["0", "1", "2", "3"]);

    const response = await api.inject({ url: `/v1/jobs/${id}/files/training.csv` });
    expect(response.headers["content-type"]).toBe("text/csv; charset=utf-8");
    const missing = await api.inject({ url: `/v1/jobs/${id}/files/other.csv` });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error).toBe("not_found");
    const invalid = await api.inject({ url: `/v1/jobs/${id}/files/.hidden` });
    expect(invalid.statusCode).toBe(400);
  });
});

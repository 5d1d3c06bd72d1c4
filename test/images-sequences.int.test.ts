import { readFileSync } from "node:fs";
import type { PlateauClient } from "@plateau/client";
import { loadConfig } from "@plateau/config";
import type { JobSpec } from "@plateau/contract";
import { selectBackend } from "@plateau/training";
import type { LayersModel, Tensor } from "@tensorflow/tfjs";
import { dump } from "npyjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTrainingStack, type TrainingStack } from "./training-stack";

/**
 * What Keras users bring, end to end through the HTTP API on the default backend (wasm, with the cpu
 * fallbacks of libs/training/src/wasm-fallback.ts for the kernels it lacks): the README's image classifier
 * (Conv2D + MaxPooling2D) trained from uploaded .npy files, a sequence classifier (Embedding + GRU) from
 * JSONL rows holding token lists — each keeping its best epoch with ModelCheckpoint(save_best_only), whose
 * checkpoint loads back with tf.loadLayersModel and scores what the job recorded for it — and the README's
 * Embedding + Bidirectional(LSTM) text classifier as written.
 */

const { tf } = await selectBackend(loadConfig().TFJS_BACKEND);
let stack: TrainingStack;
let client: PlateauClient;

beforeAll(async () => {
  stack = await startTrainingStack("images");
  ({ client } = stack);
});

afterAll(async () => {
  await stack?.close();
});

const finished = (id: string) => stack.finished(id);

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");

/** The README's example under `<!-- example:name -->`, checked to be examples/<name>.json. */
function readmeExample(name: string): Record<string, Record<string, unknown>> {
  const file = JSON.parse(readFileSync(new URL(`../examples/${name}.json`, import.meta.url), "utf8"));
  const marker = readme.indexOf(`<!-- example:${name} -->`);
  expect(marker).toBeGreaterThan(-1);
  expect(JSON.parse(readme.slice(marker).split("```json\n")[1].split("```")[0])).toEqual(file);
  return file;
}

const checkpointBest = {
  type: "ModelCheckpoint",
  monitor: "val_loss",
  save_best_only: true,
  filepath: "best-{epoch:02d}",
};

/** The best checkpoint, loaded back, scores the validation rows as the job recorded for its epoch. */
async function bestScoresAsRecorded(id: string, x: Tensor, y: Tensor) {
  const best = await client.bestCheckpoint(id);
  const rows = (await client.metrics(id, { after: 0, limit: 100 })).items;
  expect(rows).toHaveLength(2);
  const lowest = Math.min(...rows.map((row) => row.logs.val_loss as number));
  expect(best).toMatchObject({ monitor: "val_loss" });
  expect(best.value).toBeCloseTo(lowest, 6);
  const model: LayersModel = await tf.loadLayersModel(best.model_url);
  model.compile({ optimizer: "sgd", loss: "sparseCategoricalCrossentropy" });
  const loss = model.evaluate(x, y) as Tensor;
  expect((await loss.data())[0]).toBeCloseTo(best.value as number, 4);
  tf.dispose([loss]);
  model.dispose();
}

describe("images and sequences through the API", () => {
  it("trains the README's .npy image classifier on uploaded 28×28×1 images and loads its best checkpoint", async () => {
    // Class 1 is bright in its top half, class 0 in its bottom half.
    const n = 24;
    const pixels = new Float32Array(n * 784);
    const labels = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      labels[i] = i % 2;
      for (let p = 0; p < 784; p++) {
        const top = p < 392;
        pixels[i * 784 + p] = (top === (labels[i] === 1) ? 0.8 : 0.1) + ((i * 7 + p * 13) % 10) / 100;
      }
    }
    const images = await client.uploadDataset(new Blob([dump(pixels, [n, 28, 28, 1])]), {
      filename: "x_train.npy",
    });
    expect(images).toMatchObject({
      format: "npy",
      rows: n,
      arrays: [{ name: "array", dtype: "float32", shape: [n, 28, 28, 1] }],
    });
    const y = await client.uploadDataset(new Blob([dump(labels, [n])]), { filename: "y_train.npy" });

    const example = readmeExample("npy-image-classifier");
    const spec = {
      ...example,
      data: { ...example.data, id: images.id, y: { source: "dataset", id: y.id } },
      fit: { ...example.fit, epochs: 2, batch_size: 8, validation_split: 0.25, shuffle: false },
    } as unknown as JobSpec;
    const { id } = await client.submitJob(spec);
    expect(await finished(id)).toMatchObject({ status: "succeeded", stop_reason: "completed" });

    // validation_split holds out the last quarter of the rows, as Keras does.
    const held = n - Math.floor(n * 0.75);
    const x = tf.tensor(pixels.slice((n - held) * 784), [held, 28, 28, 1]);
    const yHeld = tf.tensor(Array.from(labels.slice(n - held)), [held]);
    await bestScoresAsRecorded(id, x, yHeld);
    tf.dispose([x, yHeld]);
  });

  it("trains the README's Embedding + Bidirectional(LSTM) text classifier as written", async () => {
    const { id } = await client.submitJob(readmeExample("text-bilstm") as unknown as JobSpec);
    expect(await finished(id)).toMatchObject({ status: "succeeded", stop_reason: "completed" });
    expect((await client.metrics(id, { after: 0, limit: 100 })).items).toHaveLength(5);
  });

  it("trains an Embedding + GRU classifier on JSONL token lists and loads its best checkpoint", async () => {
    // Sequences of 6 tokens from a vocabulary of 10: class 1 when token 7 occurs.
    const sequences = Array.from({ length: 24 }, (_, i) =>
      Array.from({ length: 6 }, (_, t) => (i % 2 === 1 && t === i % 6 ? 7 : (i * 3 + t * 5) % 7)),
    );
    const label = (tokens: number[]) => (tokens.includes(7) ? 1 : 0);
    const jsonl = sequences.map((tokens) => JSON.stringify({ tokens, label: label(tokens) })).join("\n");
    const dataset = await client.uploadDataset(jsonl, { filename: "sequences.jsonl" });
    const validation = sequences.slice(0, 8).map((tokens) => tokens.map((t) => (t + 1) % 10));

    const spec = {
      name: "gru",
      model: {
        layers: [
          { class_name: "Embedding", config: { input_dim: 10, output_dim: 4, input_shape: [6] } },
          { class_name: "GRU", config: { units: 4, reset_after: false } },
          { class_name: "Dense", config: { units: 2, activation: "softmax" } },
        ],
      },
      compile: { optimizer: "adam", loss: "sparse_categorical_crossentropy", metrics: ["accuracy"] },
      data: { source: "dataset", id: dataset.id, label: "label", features: ["tokens"] },
      fit: {
        epochs: 2,
        batch_size: 8,
        validation_data: { source: "inline", x: validation, y: validation.map(label) },
      },
      callbacks: [checkpointBest],
    } as unknown as JobSpec;
    const { id } = await client.submitJob(spec);
    expect(await finished(id)).toMatchObject({ status: "succeeded", stop_reason: "completed" });
    const x = tf.tensor2d(validation);
    const y = tf.tensor1d(validation.map(label));
    await bestScoresAsRecorded(id, x, y);
    tf.dispose([x, y]);
  });

  it("refuses at submission images whose shape the model's input does not take, naming both", async () => {
    const image = Array.from({ length: 8 }, () => Array.from({ length: 8 }, () => [0]));
    const spec = {
      name: "wrong-shape",
      model: {
        layers: [
          { class_name: "Conv2D", config: { filters: 2, kernel_size: 3, input_shape: [28, 28, 1] } },
          { class_name: "Flatten", config: {} },
          { class_name: "Dense", config: { units: 2, activation: "softmax" } },
        ],
      },
      compile: { optimizer: "adam", loss: "sparse_categorical_crossentropy" },
      data: { source: "inline", x: [image, image], y: [0, 1] },
      fit: { epochs: 1 },
    } as unknown as JobSpec;
    const error = await client.submitJob(spec).catch((caught) => caught);
    expect(error).toMatchObject({
      status: 400,
      details: [
        {
          path: "/model/layers/0/config/input_shape",
          message:
            "is [28,28,1], but the inline data has samples of shape [8,8,1]: the model's input must take [8,8,1]",
        },
      ],
    });
  });
});

import { readFileSync } from "node:fs";
import type { PlateauClient } from "@plateau/client";
import type { JobSpec, LearningRateScheduleSpec } from "@plateau/contract";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildLearningRateSchedule } from "../libs/training/src/lr-schedules";
import { startTrainingStack, type TrainingStack } from "./training-stack";

/**
 * Keras's optimizer, schedule and layer vocabulary trained through HTTP on the default backend: the
 * README's logits + AdamW + cosine-decay example runs to the end with the schedule's rate in every epoch's
 * logs, and a model with Rescaling, Normalization, SeparableConv2D and Keras 3 activations trains.
 */

let stack: TrainingStack;
let client: PlateauClient;

beforeAll(async () => {
  stack = await startTrainingStack("keras-training");
  ({ client } = stack);
});

afterAll(async () => {
  await stack?.close();
});

const finished = (id: string) => stack.finished(id);

const example = JSON.parse(
  readFileSync(new URL("../examples/logits-adamw-cosine.json", import.meta.url), "utf8"),
);

describe("Keras vocabulary, trained", () => {
  it("runs the README's logits + AdamW + cosine-decay example, logging the schedule's rate each epoch", async () => {
    const { id } = await client.submitJob(example as JobSpec);
    const job = await finished(id);
    expect(job.status, job.error ?? "").toBe("succeeded");
    const rows = (await client.metrics(id, { after: 0, limit: 1000 })).items;
    expect(rows.length).toBeGreaterThan(0);
    // 200 spirals less a 20% validation split, in batches of 20: 8 steps per epoch.
    const schedule = buildLearningRateSchedule(
      example.compile.optimizer.learning_rate as LearningRateScheduleSpec,
    );
    for (const [epoch, row] of rows.entries()) {
      expect(row.epoch).toBe(epoch);
      expect(row.logs.learning_rate).toBe(schedule(8 * (epoch + 1)));
      expect(Number.isFinite(row.logs.val_loss as number)).toBe(true);
    }
    // The warmup ends at step 8, after the first epoch.
    expect(rows[0].logs.learning_rate).toBe(Math.fround(0.01));
    expect((await client.finalModel(id)).model_url).toContain(`/v1/jobs/${id}/model/model.json`);
  });

  it("trains Rescaling, Normalization, SeparableConv2D and Keras 3's hard_silu/hard_sigmoid with Nadam and clipping", async () => {
    const x = Array.from({ length: 32 }, (_, i) => [Math.sin(i), Math.cos(i), (i % 5) / 5, (i % 3) / 3]);
    const spec = {
      name: "keras-layers",
      model: {
        layers: [
          { class_name: "Rescaling", config: { scale: 2, offset: -1, input_shape: [4] } },
          { class_name: "Normalization", config: { mean: [0, 0, 1, 0.5], variance: [1, 1, 0.5, 0.25] } },
          { class_name: "Reshape", config: { target_shape: [2, 2, 1] } },
          { class_name: "SeparableConv2D", config: { filters: 3, kernel_size: 2, activation: "hard_silu" } },
          { class_name: "Flatten" },
          { class_name: "Dense", config: { units: 1, activation: "hard_sigmoid" } },
        ],
      },
      compile: {
        optimizer: { name: "nadam", clipnorm: 1, learning_rate: 0.01 },
        loss: "binary_crossentropy",
      },
      data: { source: "inline", x, y: x.map((row) => (row[0] > 0 ? 1 : 0)) },
      fit: { epochs: 2, batch_size: 8 },
    };
    const { id } = await client.submitJob(spec as unknown as JobSpec);
    const job = await finished(id);
    expect(job.status, job.error ?? "").toBe("succeeded");
    const rows = (await client.metrics(id, { after: 0, limit: 1000 })).items;
    expect(rows.map((row) => row.epoch)).toEqual([0, 1]);
    expect(rows.every((row) => Number.isFinite(row.logs.loss as number))).toBe(true);
  });
});

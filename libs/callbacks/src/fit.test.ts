import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import seedrandom from "seedrandom";
import { beforeAll, describe, expect, it } from "vitest";
import type { CallbackEvent } from "./base";
import { EarlyStopping } from "./early-stopping";
import { LearningRateScheduler } from "./learning-rate-scheduler";
import { ModelCheckpoint } from "./model-checkpoint";
import { createOptimizer } from "./optimizers";
import { ReduceLROnPlateau } from "./reduce-lr-on-plateau";
import { MemorySink } from "./sink";
import { TerminateOnNaN } from "./terminate-on-nan";

beforeAll(async () => {
  expect(await tf.setBackend("wasm")).toBe(true);
  // Weight initialization and shuffling draw from Math.random: seeded, every run trains the same way, so
  // a plateau or an early stop these tests wait for happens every time (a job's `seed` does the same).
  Math.random = seedrandom("callbacks-fit");
});

/** A small separable binary classification problem. */
function data(n: number, seed: number) {
  const xs = Array.from({ length: n }, (_, i) => [Math.sin(i * 12.9898 + seed), Math.cos(i * 78.233 + seed)]);
  const ys = xs.map(([a, b]) => [a + b > 0 ? 1 : 0]);
  return { x: tf.tensor2d(xs), y: tf.tensor2d(ys) };
}

function classifier(learningRate: number) {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ units: 8, activation: "relu", inputShape: [2] }),
      tf.layers.dense({ units: 1, activation: "sigmoid" }),
    ],
  });
  model.compile({
    optimizer: createOptimizer("adam", learningRate),
    loss: "binaryCrossentropy",
    metrics: ["accuracy"],
  });
  return model;
}

describe("callbacks inside a real model.fit (wasm backend)", () => {
  it("TerminateOnNaN stops within the batch where the loss first became non-finite", async () => {
    const model = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [1] })] });
    model.compile({ optimizer: createOptimizer("sgd", 1e6), loss: "meanSquaredError" });
    const x = tf.tensor2d(Array.from({ length: 64 }, (_, i) => [i + 1]));
    const batchesSeen: [number, number][] = [];
    let epoch = 0;
    const terminate = new TerminateOnNaN();
    const history = await model.fit(x, x.mul(3), {
      epochs: 5,
      batchSize: 4,
      callbacks: [
        terminate,
        new tf.CustomCallback({
          onEpochBegin: (e) => {
            epoch = e;
          },
          onBatchEnd: (b) => {
            batchesSeen.push([epoch, b]);
          },
        }),
      ],
    });
    expect(terminate.terminated).not.toBeNull();
    const {
      epoch: badEpoch,
      batch: badBatch,
      value,
    } = terminate.terminated ?? { epoch: -1, batch: -1, value: 0 };
    expect(Number.isFinite(value)).toBe(false);
    expect(batchesSeen.at(-1)).toEqual([badEpoch, badBatch]);
    expect(history.epoch.at(-1)).toBe(badEpoch);
    tf.dispose([x]);
  });

  it("the combined example from Keras's callback guide, with its scheduler", async () => {
    const train = data(96, 1);
    const val = data(32, 2);
    const events: CallbackEvent[] = [];
    const sink = new MemorySink();
    const context = { onEvent: (e: CallbackEvent) => events.push(e), sink };
    const model = classifier(0.05);
    const reduce = new ReduceLROnPlateau(
      { monitor: "val_loss", factor: 0.2, patience: 5, min_lr: 0.001 },
      context,
    );
    const stop = new EarlyStopping({ monitor: "val_loss", patience: 7, restore_best_weights: true }, context);
    const checkpoint = new ModelCheckpoint(
      { monitor: "val_accuracy", mode: "max", save_best_only: true },
      context,
    );
    const scheduler = new LearningRateScheduler(
      { schedule: "lr < 0.001 ? lr * 1.5 : epoch < 5 ? lr : epoch < 10 ? lr * exp(-0.1) : lr * exp(-0.05)" },
      context,
    );
    const history = await model.fit(train.x, train.y, {
      epochs: 80,
      batchSize: 16,
      validationData: [val.x, val.y],
      callbacks: [scheduler, reduce, stop, new TerminateOnNaN(undefined, context), checkpoint],
    });
    const lrs = history.history.learning_rate as number[];
    expect(lrs[0]).toBe(Math.fround(0.05));
    const reductions = events.filter((e) => e.action === "reduce_lr");
    for (const e of reductions) {
      expect(lrs[e.epoch]).toBe(e.details.from);
      expect(e.details.to).toBe(Math.fround(Math.max((e.details.from as number) * 0.2, 0.001)));
    }
    // Each epoch trains at the scheduler's rate, computed from where the previous epoch left it
    // (after ReduceLROnPlateau's cut, when there was one) — the Python function's numbers.
    const guide = (epoch: number, lr: number) =>
      lr < 0.001 ? lr * 1.5 : epoch < 5 ? lr : lr * Math.exp(epoch < 10 ? -0.1 : -0.05);
    for (let epoch = 1; epoch < lrs.length; epoch++) {
      const cut = reductions.find((e) => e.epoch === epoch - 1);
      const before = cut ? (cut.details.to as number) : lrs[epoch - 1];
      expect(Math.abs(lrs[epoch] - guide(epoch, before))).toBeLessThanOrEqual(1e-6 * lrs[epoch]);
    }
    // Checkpoints are saved exactly when val_acc reached a new maximum.
    const valAcc = history.history.val_acc as number[];
    const records = valAcc.filter((v, i) => valAcc.slice(0, i).every((w) => v > w));
    expect(sink.models.map((m) => m.artifact.monitor_value)).toEqual(records);
    // After an early stop, the model holds the weights of the best val_loss epoch.
    const valLoss = history.history.val_loss as number[];
    const best = valLoss.indexOf(Math.min(...valLoss));
    expect(stop.stoppedEpoch).toBeGreaterThan(0);
    expect(events.some((e) => e.action === "reduce_lr")).toBe(true);
    expect(events).toContainEqual(
      expect.objectContaining({ action: "restore_best_weights", details: { epoch: best } }),
    );
    const restored = model.evaluate(val.x, val.y) as tf.Scalar[];
    expect((await restored[0].data())[0]).toBeCloseTo(valLoss[best], 4);
    tf.dispose([train.x, train.y, val.x, val.y]);
  });

  it("EarlyStopping with restore_best_weights leaves no tensor behind after training", async () => {
    const train = data(64, 3);
    const val = data(16, 4);
    const model = classifier(0.05);
    const fit = (callbacks: tf.Callback[]) =>
      model.fit(train.x, train.y, { epochs: 6, batchSize: 16, validationData: [val.x, val.y], callbacks });
    // A first fit creates the optimizer's slots, which stay with the model.
    await fit([]);
    const before = tf.memory().numTensors;
    const events: CallbackEvent[] = [];
    const stop = new EarlyStopping(
      { monitor: "val_loss", patience: 2, restore_best_weights: true },
      { onEvent: (e) => events.push(e) },
    );
    await fit([stop]);
    expect(events.map((e) => e.action)).toContain("restore_best_weights");
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
    tf.dispose([train.x, train.y, val.x, val.y]);
  });
});

import type { CallbackSpec, OptimizerName } from "@plateau/contract";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import type { CallbackEvent } from "./base";
import { getLearningRate } from "./learning-rate";
import { LearningRateScheduler } from "./learning-rate-scheduler";
import { createOptimizer } from "./optimizers";
import { ReduceLROnPlateau } from "./reduce-lr-on-plateau";
import { callbacksFromSpecs } from "./registry";
import { simulate } from "./simulate";
import { MemorySink } from "./sink";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

const GUIDE_SCHEDULER =
  "lr < 0.001 ? lr * 1.5 : epoch < 5 ? lr : epoch < 10 ? lr * exp(-0.1) : lr * exp(-0.05)";

/**
 * The Keras guide's `scheduler(epoch, lr)` with `tf.math.exp`, run in Python from SGD's default 0.01 for 50
 * epochs: `float(var)` in, float32 `exp`, result assigned to the float32 variable. Covers all four branches
 * (lr first drops below 0.001 at epoch 46).
 */
const PYTHON_GUIDE_RATES = [
  0.009999999776482582, 0.009999999776482582, 0.009999999776482582, 0.009999999776482582,
  0.009999999776482582, 0.009048374369740486, 0.008187307976186275, 0.007408182602375746,
  0.006703200750052929, 0.006065306719392538, 0.0057694981805980206, 0.005488116759806871,
  0.005220458377152681, 0.004965853877365589, 0.004723666235804558, 0.004493290558457375,
  0.0042741503566503525, 0.00406569754704833, 0.0038674112875014544, 0.0036787954159080982,
  0.003499378450214863, 0.003328711958602071, 0.003166368929669261, 0.003011943306773901,
  0.0028650492895394564, 0.0027253192383795977, 0.002592403907328844, 0.0024659710470587015,
  0.0023457042407244444, 0.0022313029039651155, 0.002122481120750308, 0.002018966479226947,
  0.0019205004209652543, 0.0018268366111442447, 0.0017377408221364021, 0.00165299023501575,
  0.001572372973896563, 0.001495687523856759, 0.0014227420324459672, 0.0013533540768548846,
  0.001287350314669311, 0.001224565552547574, 0.001164842862635851, 0.0011080328840762377,
  0.0010539934737607837, 0.0010025895899161696, 0.0009536927682347596, 0.0014305391814559698,
  0.0013607710134238005, 0.0012944054324179888,
];

/** Keras's test model: Dense(5) → Dense(2) on 10 samples of 3 features, mse. */
function kerasTestModel(optimizer: OptimizerName, learningRate?: number): tf.LayersModel {
  const model = tf.sequential({
    layers: [tf.layers.dense({ units: 5, inputShape: [3] }), tf.layers.dense({ units: 2 })],
  });
  model.compile({ optimizer: createOptimizer(optimizer, learningRate), loss: "meanSquaredError" });
  return model;
}

async function fit(model: tf.LayersModel, callbacks: tf.Callback[], epochs: number, initialEpoch = 0) {
  const x = tf.tensor2d(
    Array.from({ length: 30 }, (_, i) => Math.sin(i)),
    [10, 3],
  );
  const y = tf.tensor2d(
    Array.from({ length: 20 }, (_, i) => i % 2),
    [10, 2],
  );
  try {
    return await model.fit(x, y, { epochs, initialEpoch, batchSize: 5, callbacks, verbose: 0 });
  } finally {
    tf.dispose([x, y]);
  }
}

describe("LearningRateScheduler in model.fit", () => {
  it("Keras test_updates_learning_rate: 1 / (2 + epoch) over 1 epoch → 0.5", async () => {
    const model = kerasTestModel("sgd");
    await fit(model, [new LearningRateScheduler({ schedule: "1 / (2 + epoch)", verbose: 1 })], 1);
    expect(getLearningRate(model)).toBe(0.5);
  });

  it("Keras test_schedule_dependent_on_previous_learning_rate: lr / 2 from Adam(0.03) over 2 epochs → 0.0075", async () => {
    const model = kerasTestModel("adam", 0.03);
    await fit(model, [new LearningRateScheduler({ schedule: "lr / 2" })], 2);
    expect(getLearningRate(model)).toBe(Math.fround(0.03 / 4));
  });

  it("Keras test_learning_rate_in_history: learning_rate is logged every epoch", async () => {
    const model = kerasTestModel("sgd");
    const history = await fit(model, [new LearningRateScheduler({ schedule: "0.5" })], 1);
    expect(history.history.learning_rate).toEqual([0.5]);
  });

  it("gives the Keras guide scheduler's Python numbers, reported as set_lr events", async () => {
    const events: CallbackEvent[] = [];
    const model = kerasTestModel("sgd");
    const scheduler = new LearningRateScheduler(
      { schedule: GUIDE_SCHEDULER },
      { onEvent: (e) => events.push(e) },
    );
    const history = await fit(model, [scheduler], 15);
    expect(history.history.learning_rate).toEqual(PYTHON_GUIDE_RATES.slice(0, 15));
    // The rate first changes at epoch 5; unchanged epochs are no decision and send no event.
    expect(events[0]).toEqual({
      callback: "LearningRateScheduler",
      epoch: 5,
      action: "set_lr",
      details: { from: PYTHON_GUIDE_RATES[4], to: PYTHON_GUIDE_RATES[5] },
    });
    expect(events.map((e) => e.epoch)).toEqual([5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
  });

  it("fails the fit on a non-positive or non-finite rate, naming the epoch", async () => {
    const model = kerasTestModel("sgd");
    await expect(
      fit(model, [new LearningRateScheduler({ schedule: "0.1 - epoch * 0.05" })], 4),
    ).rejects.toThrow(
      "the schedule gave learning rate 0 at epoch 2 (lr was 0.05000000074505806); it must be a finite number > 0",
    );
    await expect(
      fit(kerasTestModel("sgd"), [new LearningRateScheduler({ schedule: "log(lr - lr)" })], 1),
    ).rejects.toThrow("gave learning rate -Infinity at epoch 0");
  });

  it("throws at construction on an invalid schedule", () => {
    expect(() => new LearningRateScheduler({ schedule: "lr * decay" })).toThrow(
      "LearningRateScheduler: invalid options: schedule: unknown variable 'decay'; allowed: epoch, lr",
    );
  });

  it("continues identically after export → restore on a fresh model whose optimizer starts over", async () => {
    const schedule = "epoch < 2 ? lr : lr * 0.7";
    const whole = kerasTestModel("adam", 0.1);
    const uninterrupted = await fit(whole, [new LearningRateScheduler({ schedule })], 6);

    const first = kerasTestModel("adam", 0.1);
    const before = new LearningRateScheduler({ schedule });
    const head = await fit(first, [before], 3);
    const state = JSON.parse(JSON.stringify(before.exportState()));
    const second = kerasTestModel("adam", 0.1);
    const after = new LearningRateScheduler({ schedule });
    after.restoreState(state);
    const tail = await fit(second, [after], 6, 3);

    expect([...head.history.learning_rate, ...tail.history.learning_rate]).toEqual(
      uninterrupted.history.learning_rate,
    );
    expect(getLearningRate(second)).toBe(getLearningRate(whole));
  });
});

describe("LearningRateScheduler through simulate", () => {
  it("gives the Keras guide scheduler's Python numbers over 50 epochs", async () => {
    const result = await simulate({
      callbacks: [{ type: "LearningRateScheduler", schedule: GUIDE_SCHEDULER }],
      optimizer: { name: "sgd", learning_rate: 0.01 },
      epochs: PYTHON_GUIDE_RATES.map(() => ({ logs: { loss: 1 } })),
    });
    expect(result.epochs.map((e) => e.learning_rate)).toEqual(PYTHON_GUIDE_RATES);
    expect(result.final_learning_rate).toBe(PYTHON_GUIDE_RATES[49]);
  });

  it("replays the Keras test vectors", async () => {
    const run = (
      schedule: string,
      optimizer: { name: OptimizerName; learning_rate?: number },
      epochs: number,
    ) =>
      simulate({
        callbacks: [{ type: "LearningRateScheduler", schedule }],
        optimizer,
        epochs: Array(epochs).fill({ logs: { loss: 1 } }),
      });
    expect((await run("1 / (2 + epoch)", { name: "sgd" }, 1)).final_learning_rate).toBe(0.5);
    expect((await run("lr / 2", { name: "adam", learning_rate: 0.03 }, 2)).final_learning_rate).toBe(
      Math.fround(0.0075),
    );
  });

  it("applies a named schedule with the epoch as its step", async () => {
    const result = await simulate({
      callbacks: [
        {
          type: "LearningRateScheduler",
          schedule: { name: "step_decay", initial_learning_rate: 0.1, drop: 0.5, epochs_drop: 2 },
        },
      ],
      epochs: Array(5).fill({ logs: { loss: 1 } }),
    });
    expect(result.epochs.map((e) => e.learning_rate)).toEqual([0.1, 0.1, 0.05, 0.05, 0.025].map(Math.fround));
  });
});

describe("LearningRateScheduler with ReduceLROnPlateau", () => {
  // The scheduler sets the rate at epoch begin from the current rate; the plateau callback (patience 1, a
  // monitored value that never improves) divides it by 10 at the end of every epoch after the first.
  const schedule = "epoch < 2 ? lr : lr * 0.5";
  const expectedRates = (epochs: number, initial: number) => {
    const rates: number[] = [];
    let lr = Math.fround(initial);
    for (let epoch = 0; epoch < epochs; epoch++) {
      lr = Math.fround(epoch < 2 ? lr : lr * 0.5);
      rates.push(lr);
      if (epoch >= 1) lr = Math.fround(Math.max(lr * 0.1, 0));
    }
    return rates;
  };

  it("in simulate: set at epoch begin, reduced at epoch end", async () => {
    const result = await simulate({
      callbacks: [
        { type: "LearningRateScheduler", schedule },
        { type: "ReduceLROnPlateau", monitor: "val_loss", factor: 0.1, patience: 1 },
      ],
      optimizer: { name: "sgd", learning_rate: 1 },
      epochs: Array(5).fill({ logs: { loss: 1, val_loss: 1 } }),
    });
    expect(result.epochs.map((e) => e.learning_rate)).toEqual(expectedRates(5, 1));
    expect(result.events.map((e) => [e.epoch, e.callback, e.action])).toEqual([
      [1, "ReduceLROnPlateau", "reduce_lr"],
      [2, "LearningRateScheduler", "set_lr"],
      [2, "ReduceLROnPlateau", "reduce_lr"],
      [3, "LearningRateScheduler", "set_lr"],
      [3, "ReduceLROnPlateau", "reduce_lr"],
      [4, "LearningRateScheduler", "set_lr"],
      [4, "ReduceLROnPlateau", "reduce_lr"],
    ]);
  });

  it("in model.fit: the logged learning_rate is the rate each epoch trained with", async () => {
    const model = kerasTestModel("sgd", 1);
    // A min_delta no real loss can beat: after the first epoch the loss never counts as improved.
    const plateau = new ReduceLROnPlateau({ monitor: "loss", factor: 0.1, patience: 1, min_delta: 1e9 });
    const history = await fit(model, [new LearningRateScheduler({ schedule }), plateau], 5);
    expect(history.history.learning_rate).toEqual(expectedRates(5, 1));
    expect(getLearningRate(model)).toBe(Math.fround(expectedRates(5, 1)[4] * 0.1));
  });
});

describe("the Keras callback guide's combination, with the guide scheduler", () => {
  const specs: CallbackSpec[] = [
    { type: "LearningRateScheduler", schedule: GUIDE_SCHEDULER },
    { type: "ReduceLROnPlateau", monitor: "val_loss", factor: 0.2, patience: 5, min_lr: 0.001 },
    { type: "EarlyStopping", monitor: "val_loss", patience: 7, restore_best_weights: true },
    { type: "TerminateOnNaN" },
    { type: "ModelCheckpoint", monitor: "val_acc", mode: "max", save_best_only: true },
  ];

  it("makes the same decisions in model.fit as simulate does on the recorded curve", async () => {
    const events: CallbackEvent[] = [];
    const sink = new MemorySink();
    const model = tf.sequential({
      layers: [
        tf.layers.dense({ units: 8, activation: "relu", inputShape: [2] }),
        tf.layers.dense({ units: 1, activation: "sigmoid" }),
      ],
    });
    model.compile({
      optimizer: createOptimizer("adam", 0.05),
      loss: "binaryCrossentropy",
      metrics: ["accuracy"],
    });
    const points = (n: number, seed: number) =>
      Array.from({ length: n }, (_, i) => [Math.sin(i * 12.9898 + seed), Math.cos(i * 78.233 + seed)]);
    const [train, val] = [points(96, 1), points(32, 2)];
    const label = (xs: number[][]) => tf.tensor2d(xs.map(([a, b]) => [a + b > 0 ? 1 : 0]));
    const tensors = [tf.tensor2d(train), label(train), tf.tensor2d(val), label(val)];
    const history = await model.fit(tensors[0], tensors[1], {
      epochs: 60,
      batchSize: 16,
      validationData: [tensors[2], tensors[3]],
      callbacks: callbacksFromSpecs(specs, { onEvent: (e) => events.push(e), sink }),
      verbose: 0,
    });
    tf.dispose(tensors);

    const h = history.history as Record<string, number[]>;
    const replay = await simulate({
      callbacks: specs,
      optimizer: { name: "adam", learning_rate: 0.05 },
      epochs: history.epoch.map((_, i) => ({
        logs: { loss: h.loss[i], acc: h.acc[i], val_loss: h.val_loss[i], val_acc: h.val_acc[i] },
      })),
    });
    expect(replay.epochs.map((e) => e.learning_rate)).toEqual(h.learning_rate);
    expect(replay.checkpoints.map((c) => c.epoch)).toEqual(sink.models.map((m) => m.artifact.epoch));
    const decisions = (list: CallbackEvent[]) => list.map((e) => [e.epoch, e.callback, e.action, e.details]);
    expect(decisions(replay.events)).toEqual(decisions(events));
    // The scheduler and the plateau callback both acted, so the combination was exercised.
    expect(events.some((e) => e.action === "set_lr") && events.some((e) => e.action === "reduce_lr")).toBe(
      true,
    );
  });
});

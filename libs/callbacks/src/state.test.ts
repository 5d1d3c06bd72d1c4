import type { CallbackSpec } from "@plateau/contract";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, expect, it } from "vitest";
import type { CallbackEvent, KerasCallback } from "./base";
import { createOptimizer } from "./optimizers";
import { callbacksFromSpecs } from "./registry";
import { MemorySink } from "./sink";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

const specs: CallbackSpec[] = [
  { type: "ReduceLROnPlateau", patience: 2, cooldown: 1, factor: 0.5 },
  { type: "EarlyStopping", patience: 4, restore_best_weights: true },
  { type: "ModelCheckpoint", save_best_only: true, save_freq: 3, monitor: "loss" },
  { type: "CSVLogger", filename: "log.csv" },
  { type: "TerminateOnNaN" },
];
const valLoss = [1, 0.9, 0.95, 0.94, 0.93, 0.8, 0.85, 0.86, 0.87, 0.88, 0.89, 0.9];

function setup(events: CallbackEvent[], sink: MemorySink) {
  const model = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [1] })] });
  model.compile({ optimizer: createOptimizer("adam", 0.1), loss: "meanSquaredError" });
  const callbacks = callbacksFromSpecs(specs, { onEvent: (e) => events.push(e), sink });
  for (const c of callbacks) c.setModel(model);
  return { model, callbacks };
}

/** Drives the hooks the way tfjs's fit loop does, for epochs [from, to). */
async function run(
  model: tf.LayersModel,
  callbacks: KerasCallback[],
  from: number,
  to: number,
  finish = true,
) {
  for (const c of callbacks) await c.onTrainBegin({});
  model.stopTraining = false;
  for (let epoch = from; epoch < to && !model.stopTraining; epoch++) {
    for (const c of callbacks) await c.onEpochBegin(epoch, {});
    for (let batch = 0; batch < 2; batch++) {
      for (const c of callbacks) await c.onBatchEnd(batch, { loss: valLoss[epoch] + batch, batch, size: 1 });
    }
    for (const c of callbacks) await c.onEpochEnd(epoch, { loss: valLoss[epoch], val_loss: valLoss[epoch] });
  }
  if (finish) for (const c of callbacks) await c.onTrainEnd({});
}

it("export -> restore on a fresh worker mid-run makes the same decisions as an uninterrupted run", async () => {
  const whole = { events: [] as CallbackEvent[], sink: new MemorySink() };
  const a = setup(whole.events, whole.sink);
  await run(a.model, a.callbacks, 0, valLoss.length);

  const split = { events: [] as CallbackEvent[], sink: new MemorySink() };
  const first = setup(split.events, split.sink);
  // The first worker dies after epoch 5: no onTrainEnd.
  await run(first.model, first.callbacks, 0, 6, false);
  const states = JSON.parse(JSON.stringify(first.callbacks.map((c) => c.exportState())));
  const second = setup(split.events, split.sink);
  second.model.setWeights(first.model.getWeights());
  second.model.optimizer.dispose();
  (second.model as { optimizer: tf.Optimizer }).optimizer = createOptimizer(
    "adam",
    (first.model.optimizer as unknown as { learningRate: number }).learningRate,
  );
  for (const [i, c] of second.callbacks.entries()) c.restoreState(states[i]);
  await run(second.model, second.callbacks, 6, valLoss.length);

  expect(whole.events.some((e) => e.action === "reduce_lr")).toBe(true);
  expect(whole.events.some((e) => e.action === "early_stop")).toBe(true);
  expect(split.events).toEqual(whole.events);
  expect(split.sink.models.map((m) => m.artifact)).toEqual(whole.sink.models.map((m) => m.artifact));
  expect(split.sink.files.get("log.csv")).toEqual(whole.sink.files.get("log.csv"));
});

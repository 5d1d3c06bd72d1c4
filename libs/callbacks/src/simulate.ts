import * as tf from "@tensorflow/tfjs";
import type { CallbackEvent, KerasCallback } from "./base";
import { getLearningRate } from "./learning-rate";
import { createOptimizer, type OptimizerName } from "./optimizers";
import { callbacksFromSpecs } from "./registry";
import type { CallbackSpec } from "./schemas";
import { MemorySink } from "./sink";

export interface SimulationInput {
  callbacks: CallbackSpec[];
  /** Defaults to Keras's compile default, rmsprop at 0.001. */
  optimizer?: { name: OptimizerName; learning_rate?: number };
  /** Recorded logs per epoch; `batches` default to one batch carrying the epoch's training (non-val_) logs. */
  epochs: { logs: Record<string, number>; batches?: Record<string, number>[] }[];
}

export interface SimulationResult {
  epochs: { epoch: number; learning_rate: number; stop_training: boolean }[];
  /** The epoch during which training was stopped, or null if every recorded epoch ran. */
  stopped_epoch: number | null;
  checkpoints: { epoch: number; batch: number | null; filepath: string }[];
  /** Which epoch's weights the model holds at the end (differs from the last epoch after a restore). */
  restored_weights_from_epoch: number | null;
  final_learning_rate: number;
  events: CallbackEvent[];
  warnings: string[];
}

/**
 * Replays a recorded metric sequence through callbacks on a tiny real tfjs model, in the order tfjs's
 * fit loop calls them, without training. Each epoch's weights are set to the epoch index, so a restore
 * of best weights shows which epoch it came from.
 */
export async function simulate(input: SimulationInput): Promise<SimulationResult> {
  const events: CallbackEvent[] = [];
  const warnings: string[] = [];
  const sink = new MemorySink();
  const callbacks = callbacksFromSpecs(input.callbacks, {
    onEvent: (event) => events.push(event),
    warn: (message) => warnings.push(message),
    sink,
  });
  const model = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [1] })] });
  const { name = "rmsprop", learning_rate } = input.optimizer ?? {};
  model.compile({ optimizer: createOptimizer(name, learning_rate), loss: "meanSquaredError" });
  try {
    return await replay(model, callbacks, input.epochs, { events, warnings, sink });
  } finally {
    model.optimizer.dispose();
    model.dispose();
  }
}

async function replay(
  model: tf.LayersModel,
  callbacks: KerasCallback[],
  epochs: SimulationInput["epochs"],
  out: { events: CallbackEvent[]; warnings: string[]; sink: MemorySink },
): Promise<SimulationResult> {
  for (const callback of callbacks) {
    callback.setModel(model);
    callback.setParams({
      epochs: epochs.length,
      samples: 0,
      steps: 0,
      batchSize: 1,
      verbose: 0,
      doValidation: false,
      metrics: [],
    });
  }
  const each = async (call: (callback: KerasCallback) => Promise<void>) => {
    for (const callback of callbacks) await call(callback);
  };
  const result: SimulationResult["epochs"] = [];
  let stoppedEpoch: number | null = null;
  await each((c) => c.onTrainBegin({}));
  model.stopTraining = false;
  for (const [epoch, { logs, batches }] of epochs.entries()) {
    await each((c) => c.onEpochBegin(epoch, {}));
    markWeights(model, epoch);
    const learningRate = getLearningRate(model);
    const trainLogs = Object.fromEntries(Object.entries(logs).filter(([key]) => !key.startsWith("val_")));
    for (const [batch, batchLogs] of (batches ?? [trainLogs]).entries()) {
      await each((c) => c.onBatchBegin(batch, { batch, size: 1 }));
      await each((c) => c.onBatchEnd(batch, { ...batchLogs, batch, size: 1 }));
      if (model.stopTraining) break;
    }
    await each((c) => c.onEpochEnd(epoch, { ...logs }));
    result.push({ epoch, learning_rate: learningRate, stop_training: model.stopTraining });
    if (model.stopTraining) {
      stoppedEpoch = epoch;
      break;
    }
  }
  await each((c) => c.onTrainEnd({}));
  return {
    epochs: result,
    stopped_epoch: stoppedEpoch,
    checkpoints: out.sink.models.map(({ artifact }) => ({
      epoch: artifact.epoch,
      batch: artifact.batch,
      filepath: artifact.filepath,
    })),
    restored_weights_from_epoch: result.length > 0 ? (await model.getWeights()[1].data())[0] : null,
    final_learning_rate: getLearningRate(model),
    events: out.events,
    warnings: out.warnings,
  };
}

function markWeights(model: tf.LayersModel, epoch: number): void {
  const marks = model.getWeights().map((w) => tf.fill(w.shape, epoch));
  model.setWeights(marks);
  tf.dispose(marks);
}

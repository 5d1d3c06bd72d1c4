import type { SimulationInput, SimulationResult } from "@plateau/contract";
import * as tf from "@tensorflow/tfjs";
import type { CallbackEvent, KerasCallback } from "./base";
import { getLearningRate } from "./learning-rate";
import { createOptimizer } from "./optimizers";
import { callbacksFromSpecs } from "./registry";
import { MemorySink } from "./sink";
import { validateCallbackSpecs } from "./validate";

/**
 * One simulation's work is bounded: it replays at most `batches` batches (callbacks run on each, and a
 * Rule's expression is evaluated each time) and keeps at most `events` decision events; past either, it
 * stops or stops recording and says so in `warnings`.
 */
export const SIMULATION_LIMITS = { batches: 10_000, events: 10_000 } as const;

/**
 * Replays a recorded metric sequence through callbacks on a tiny real tfjs model, in the order tfjs's
 * fit loop calls them, without training. Each epoch's weights are set to the epoch index, so a restore
 * of best weights shows which epoch it came from.
 */
export async function simulate(input: SimulationInput): Promise<SimulationResult> {
  // A library entry point taking a whole request, so it validates its callbacks itself.
  const issues = validateCallbackSpecs(input.callbacks);
  if (issues.length > 0) {
    throw new Error(`invalid callbacks: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`);
  }
  const events: CallbackEvent[] = [];
  const warnings: string[] = [];
  const sink = new MemorySink();
  let unrecorded = 0;
  const callbacks = callbacksFromSpecs(input.callbacks, {
    onEvent: (event) => {
      if (events.length < SIMULATION_LIMITS.events) events.push(event);
      else unrecorded += 1;
    },
    warn: (message) => warnings.push(message),
    sink,
  });
  const model = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [1] })] });
  const { name = "rmsprop", learning_rate } = input.optimizer ?? {};
  model.compile({ optimizer: createOptimizer(name, learning_rate), loss: "meanSquaredError" });
  try {
    const result = await replay(model, callbacks, input.epochs, { events, warnings, sink });
    if (unrecorded > 0) {
      result.warnings.push(
        `${unrecorded} more events were not recorded: a simulation reports at most ${SIMULATION_LIMITS.events}`,
      );
    }
    return result;
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
  let replayed = 0;
  await each((c) => c.onTrainBegin({}));
  model.stopTraining = false;
  for (const [epoch, { logs, batches }] of epochs.entries()) {
    const steps = (batches ?? [logs]).length;
    if (replayed + steps > SIMULATION_LIMITS.batches) {
      out.warnings.push(
        `stopped before epoch ${epoch}: a simulation replays at most ${SIMULATION_LIMITS.batches} batches`,
      );
      break;
    }
    replayed += steps;
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

import { type CallbackEvent, callbacksFromSpecs, MemorySink } from "@plateau/callbacks";
import type { CallbackSpec, DataSpec, FitSpec } from "@plateau/contract";
import type { LayersModel, Tensor } from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend, type Tf } from "./backend";
import { compileModel } from "./compile";
import { loadData } from "./data";
import { fitArgs } from "./fit";
import { buildModel } from "./model";
import { type RandomState, SeededRandom } from "./random";
import { type Logs, snapshot, type TrainHooks, type TrainingState, train } from "./run";

let tf: Tf;
beforeAll(async () => {
  tf = (await selectBackend("wasm")).tf;
});

const irisModel = {
  layers: [
    { class_name: "Dense", config: { units: 16, activation: "relu", input_shape: [4] } },
    { class_name: "Dense", config: { units: 3, activation: "softmax" } },
  ],
};
const iris: DataSpec = { source: "builtin", name: "iris" };
// No shuffling: two runs over the same data from the same weights take the same steps.
const fit: FitSpec = { epochs: 16, batch_size: 16, validation_split: 0.2, shuffle: false };
const callbackSpecs: CallbackSpec[] = [
  {
    type: "ReduceLROnPlateau",
    monitor: "val_loss",
    factor: 0.5,
    patience: 1,
    min_lr: 0.0001,
    min_delta: 0.05,
  },
  { type: "EarlyStopping", monitor: "val_loss", patience: 6 },
  { type: "ModelCheckpoint", monitor: "val_loss", save_best_only: true, filepath: "best" },
  { type: "CSVLogger", filename: "log.csv" },
  { type: "TerminateOnNaN" },
];

/** Fixed starting weights, so every run of this test takes the same path. */
function seededWeights(model: LayersModel): Tensor[] {
  let i = 0;
  return model.getWeights().map((w) =>
    tf.tensor(
      Array.from({ length: w.size }, () => 0.3 * Math.sin(++i * 12.9898)),
      w.shape,
    ),
  );
}

async function irisJob(specs = callbackSpecs) {
  const model = await buildModel(tf, irisModel);
  compileModel(tf, model, {
    optimizer: { name: "adam", learning_rate: 0.05 },
    loss: "sparse_categorical_crossentropy",
    metrics: ["accuracy"],
  });
  model.setWeights(seededWeights(model));
  const events: CallbackEvent[] = [];
  const sink = new MemorySink();
  const callbacks = callbacksFromSpecs(specs, {
    onEvent: (e) => events.push(e),
    sink,
    warn: () => {},
  });
  return { model, events, sink, callbacks, data: loadData(tf, iris).train };
}

function weightValues(model: LayersModel): number[][] {
  return model.getWeights().map((w) => Array.from(w.dataSync()));
}

describe("train", () => {
  it("continues from a snapshot with the same callback decisions and weights as one uninterrupted run", async () => {
    const whole = await irisJob();
    const wholeEpochs: Logs[] = [];
    const wholeOutcome = await train({
      tf,
      ...whole,
      args: fitArgs(fit),
      hooks: { epochMetrics: (_e, logs) => wholeEpochs.push(logs) },
    });

    // The first process: snapshot after 7 epochs, then it "dies" (training stops there).
    const first = await irisJob();
    const stop = new AbortController();
    let state: TrainingState | undefined;
    let eventsAtSnapshot = 0;
    await train({
      tf,
      ...first,
      args: fitArgs(fit),
      signal: stop.signal,
      hooks: {
        epochEnd: async (epoch) => {
          if (epoch !== 6) return;
          state = await snapshot(first.model, first.callbacks, epoch + 1);
          eventsAtSnapshot = first.events.length;
          stop.abort();
        },
      },
    });
    expect(state?.epoch).toBe(7);
    // A second process: a fresh model (at the starting weights) and fresh callbacks, restored from the state.
    const second = await irisJob();
    const secondEpochs: Logs[] = [];
    const secondOutcome = await train({
      tf,
      ...second,
      args: fitArgs(fit),
      initialState: structuredClone(state),
      hooks: { epochMetrics: (_e, logs) => secondEpochs.push(logs) },
    });

    const decisions = (events: CallbackEvent[]) => events.map((e) => [e.callback, e.action, e.epoch]);
    // The run must have reduced the rate on both sides of the split for this comparison to mean anything.
    const reductions = whole.events.filter((e) => e.action === "reduce_lr");
    expect(reductions.some((e) => e.epoch < 7) && reductions.some((e) => e.epoch >= 7)).toBe(true);
    const resumed = [...first.events.slice(0, eventsAtSnapshot), ...second.events];
    expect(decisions(resumed)).toEqual(decisions(whole.events));
    expect(resumed.map((e) => e.details.from ?? e.details.monitor_value)).toEqual(
      whole.events.map((e) => e.details.from ?? e.details.monitor_value),
    );
    expect(secondOutcome.stopReason).toBe(wholeOutcome.stopReason);
    expect(secondOutcome.lastEpoch).toBe(wholeOutcome.lastEpoch);
    expect(secondOutcome.learningRate).toBe(wholeOutcome.learningRate);
    expect(secondEpochs.map((logs) => logs.learning_rate)).toEqual(
      wholeEpochs.slice(7).map((logs) => logs.learning_rate),
    );
    secondEpochs.forEach((logs, i) => {
      expect(logs.val_loss).toBeCloseTo(wholeEpochs[7 + i].val_loss, 5);
    });
    const expected = weightValues(whole.model).flat();
    weightValues(second.model)
      .flat()
      .forEach((value, i) => {
        expect(value).toBeCloseTo(expected[i], 5);
      });
    // The CSV log continues where the first process left it, as one file.
    const csv = `${first.sink.files.get("log.csv")!.split("\r\n").slice(0, 8).join("\r\n")}\r\n${second.sink.files.get("log.csv")}`;
    expect(csv.split("\r\n").length).toBe(whole.sink.files.get("log.csv")!.split("\r\n").length);
  });

  it("continues from a snapshot inside an epoch: the same batches, epoch logs, decisions and weights", async () => {
    // Shuffled with a seeded generator and a scheduler stepping at every epoch begin: a resumed epoch that
    // drew its order again, or began twice, would show in the logs.
    const shuffled: FitSpec = { epochs: 8, batch_size: 16, validation_split: 0.2, shuffle: true };
    const specs: CallbackSpec[] = [
      { type: "LearningRateScheduler", schedule: "lr * 0.9" },
      ...callbackSpecs.filter((spec) => spec.type !== "CSVLogger"),
    ];
    const unseeded = Math.random;
    const seeded = (state?: RandomState) => {
      const random = new SeededRandom(7, state);
      random.install();
      return random;
    };
    try {
      const runLogs = () => ({ epochs: new Map<number, Logs>(), batches: [] as [number, number][] });
      const collect = (into: ReturnType<typeof runLogs>): TrainHooks => ({
        epochMetrics: (epoch, logs) => void into.epochs.set(epoch, logs),
        batchMetrics: (epoch, batch) => void into.batches.push([epoch, batch]),
      });
      const whole = await irisJob(specs);
      const wholeLogs = runLogs();
      const wholeOutcome = await train({
        tf,
        ...whole,
        args: fitArgs(shuffled),
        random: seeded(),
        hooks: collect(wholeLogs),
      });

      // The first process stops after batch 4 of epoch 3 (120 training rows: 8 batches an epoch).
      const first = await irisJob(specs);
      const stop = new AbortController();
      let state: TrainingState | undefined;
      let randomState: RandomState | undefined;
      let eventsAtSnapshot = 0;
      const firstRandom = seeded();
      await train({
        tf,
        ...first,
        args: fitArgs(shuffled),
        random: firstRandom,
        signal: stop.signal,
        hooks: {
          batchEnd: async (epoch, batch) => {
            if (epoch !== 3 || batch !== 4) return;
            state = await snapshot(first.model, first.callbacks, epoch, batch + 1);
            randomState = firstRandom.state();
            eventsAtSnapshot = first.events.length;
            stop.abort();
          },
        },
      });
      expect(state).toMatchObject({ epoch: 3, batch: 5, totals: { seen: 80 } });

      const second = await irisJob(specs);
      const secondLogs = runLogs();
      const secondOutcome = await train({
        tf,
        ...second,
        args: fitArgs(shuffled),
        random: seeded(randomState),
        initialState: structuredClone(state),
        hooks: collect(secondLogs),
      });

      // The rest of epoch 3 is batches 5…7, then whole epochs.
      expect(secondLogs.batches.slice(0, 4)).toEqual([
        [3, 5],
        [3, 6],
        [3, 7],
        [4, 0],
      ]);
      // Bit for bit: the same batches in the same order, and the epoch's means from the same float32 sums.
      expect([...secondLogs.epochs]).toEqual([...wholeLogs.epochs].filter(([epoch]) => epoch >= 3));
      const decisions = (events: CallbackEvent[]) =>
        events.map((e) => [e.callback, e.action, e.epoch, e.details.to ?? e.details.monitor_value]);
      const resumed = [...first.events.slice(0, eventsAtSnapshot), ...second.events];
      expect(decisions(resumed)).toEqual(decisions(whole.events));
      expect(whole.events.some((e) => e.action === "reduce_lr" && e.epoch > 3)).toBe(true);
      expect({ ...secondOutcome, history: null }).toEqual({ ...wholeOutcome, history: null });
      expect(weightValues(second.model)).toEqual(weightValues(whole.model));
    } finally {
      Math.random = unseeded;
    }
  });

  it("hands out every epoch's metrics and every Nth batch's, each with the learning rate in effect", async () => {
    const job = await irisJob();
    const epochs: [number, Logs][] = [];
    const batches: [number, number, Logs][] = [];
    const hooks: TrainHooks = {
      epochMetrics: (epoch, logs) => epochs.push([epoch, logs]),
      batchMetrics: (epoch, batch, logs) => batches.push([epoch, batch, logs]),
    };
    const args = fitArgs({ ...fit, epochs: 8 });
    await train({ tf, ...job, args, hooks, sampling: { every: 3, intervalMs: 60_000 } });

    expect(epochs.map(([epoch]) => epoch)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    // 120 training rows in batches of 16: 8 batches an epoch, every third one across epochs.
    const expectedBatches = Array.from({ length: 64 }, (_, i) => [Math.floor(i / 8), i % 8])
      .filter((_, i) => (i + 1) % 3 === 0)
      .map(([epoch, batch]) => [epoch, batch]);
    expect(batches.map(([epoch, batch]) => [epoch, batch])).toEqual(expectedBatches);
    for (const [, , logs] of batches) {
      expect(Object.keys(logs).sort()).toEqual(["acc", "learning_rate", "loss"]);
    }
    // The rate a reduction started from is the rate the epoch it happened in logged.
    const reductions = job.events.filter((e) => e.action === "reduce_lr");
    expect(reductions.length).toBeGreaterThan(0);
    for (const reduction of reductions) {
      const [, logs] = epochs[reduction.epoch];
      expect(logs.learning_rate).toBe(reduction.details.from);
      expect(epochs[reduction.epoch + 1]?.[1].learning_rate ?? reduction.details.to).toBe(
        reduction.details.to,
      );
    }
    for (const [, logs] of epochs) {
      expect(Object.keys(logs).sort()).toEqual(["acc", "learning_rate", "loss", "val_acc", "val_loss"]);
    }
  });

  it("stops at the batch end after the signal aborts, as a user cancel", async () => {
    const job = await irisJob();
    const stop = new AbortController();
    const seen: [number, number][] = [];
    const outcome = await train({
      tf,
      ...job,
      args: fitArgs(fit),
      signal: stop.signal,
      hooks: {
        batchMetrics: (epoch, batch) => {
          seen.push([epoch, batch]);
          if (epoch === 1 && batch === 2) stop.abort();
        },
      },
    });
    expect(outcome).toMatchObject({
      stopReason: "user_cancel",
      stopDetails: { epoch: 1, batch: 2 },
      lastEpoch: 1,
    });
    expect(seen.at(-1)).toEqual([1, 2]);
  });

  it("stops within the batch whose loss is not finite, as nan_loss with where and what", async () => {
    const model = await buildModel(tf, {
      layers: [{ class_name: "Dense", config: { units: 1, input_shape: [4] } }],
    });
    compileModel(tf, model, { optimizer: { name: "sgd", learning_rate: 1e6 }, loss: "mse" });
    const data = loadData(tf, { source: "builtin", name: "regression", samples: 64 }).train;
    const callbacks = callbacksFromSpecs([{ type: "TerminateOnNaN" }]);
    const seen: [number, number][] = [];
    const outcome = await train({
      tf,
      model,
      data,
      callbacks,
      args: fitArgs({ epochs: 5, batch_size: 8, shuffle: false }),
      hooks: { batchMetrics: (epoch, batch) => seen.push([epoch, batch]) },
    });
    expect(outcome.stopReason).toBe("nan_loss");
    const { epoch, batch, value } = outcome.stopDetails ?? {};
    expect(seen.at(-1)).toEqual([epoch, batch]);
    expect(["NaN", "Infinity", "-Infinity"]).toContain(value);
  });

  it("reports a stop decided by a callback as early_stopping", async () => {
    const job = await irisJob();
    job.callbacks.push(
      // biome-ignore lint/suspicious/noThenProperty: `then` is the Rule spec's field, never a function.
      ...callbacksFromSpecs([{ type: "Rule", on: "epoch_end", if: "epoch >= 2", then: "stop_training" }]),
    );
    const outcome = await train({ tf, ...job, args: fitArgs(fit) });
    expect(outcome).toMatchObject({ stopReason: "early_stopping", stopDetails: { epoch: 2 }, lastEpoch: 2 });
  });
});

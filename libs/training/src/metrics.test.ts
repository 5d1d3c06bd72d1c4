import type { CompileSpec } from "@plateau/contract";
import type { CustomCallbackArgs, LayersModel, Tensor } from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend, type Tf } from "./backend";
import { compileModel, logKeys } from "./compile";
import { aucThresholds } from "./metrics";
import { buildModel } from "./model";

let tf: Tf;
beforeAll(async () => {
  tf = (await selectBackend("cpu")).tf;
});

/** y = x: the model's prediction is its input, so a dataset's predictions are written down directly. */
async function identity(spec: Omit<CompileSpec, "optimizer" | "loss">): Promise<LayersModel> {
  const model = await buildModel(tf, {
    layers: [
      {
        class_name: "Dense",
        config: { units: 1, input_shape: [1], use_bias: false, kernel_initializer: "ones" },
      },
    ],
  });
  // A step this small leaves every prediction where it is (none is near the 0.5 threshold).
  compileModel(tf, model, { optimizer: { name: "sgd", learning_rate: 1e-12 }, loss: "mse", ...spec });
  return model;
}

const column = (values: number[]) => tf.tensor2d(values, [values.length, 1]);

// Two training batches of 4 with different make-ups:
//   batch 0: predicted positive 4, of which 1 is positive (tp 1, fp 3), 1 actual positive (fn 0)
//   batch 1: predicted positive 1, which is positive (tp 1, fp 0), 3 actual positives (fn 2)
// Keras's epoch precision is 2 / (2 + 3) = 0.4 (the mean of batch ratios would be 0.625), recall
// 2 / (2 + 2) = 0.5 (mean of ratios 0.667), binary_accuracy 3 / 8.
const train = () => ({
  x: column([0.9, 0.8, 0.7, 0.6, 0.9, 0.1, 0.2, 0.3]),
  y: column([1, 0, 0, 0, 1, 1, 1, 0]),
});
// Validation, batches of 4 and 2: tp 1 fp 3 fn 0, then tp 1 fp 0 fn 1 → precision 2/5 (the batch-size
// weighted mean of ratios would be 0.5), recall 2/3 (0.833).
const validation = () => ({
  x: column([0.6, 0.7, 0.8, 0.9, 0.9, 0.2]),
  y: column([1, 0, 0, 0, 1, 1]),
});

/** Two epochs over `train` in its order, batches of 4, validated on `validation`. */
function fitTwoEpochs(model: LayersModel, callbacks?: CustomCallbackArgs) {
  const [t, v] = [train(), validation()];
  return model.fit(t.x, t.y, {
    epochs: 2,
    batchSize: 4,
    shuffle: false,
    verbose: 0,
    validationData: [v.x, v.y],
    callbacks,
  });
}

describe("precision, recall and binary_accuracy as Keras computes them", () => {
  it("are epoch values from counts over all batches, training and validation apart", async () => {
    const spec = { metrics: ["binary_accuracy", "precision", "recall"] };
    const model = await identity(spec);
    const seen: Record<string, number>[] = [];
    const batches: Record<string, number>[] = [];
    const history = await fitTwoEpochs(model, {
      onBatchEnd: (_batch, logs) => {
        batches.push({ ...(logs as Record<string, number>) });
      },
      onEpochEnd: (_epoch, logs) => {
        seen.push({ ...(logs as Record<string, number>) });
      },
    });
    const expected = {
      precision: 0.4,
      recall: 0.5,
      binary_accuracy: 3 / 8,
      val_precision: 0.4,
      val_recall: 2 / 3,
      val_binary_accuracy: 2 / 6,
    };
    expect(Object.keys(history.history).sort()).toEqual(logKeys(spec, true).sort());
    for (const epoch of [0, 1]) {
      for (const [key, value] of Object.entries(expected)) {
        expect(seen[epoch][key], `${key} in the callback's logs, epoch ${epoch}`).toBeCloseTo(value, 6);
        expect(history.history[key][epoch] as number, `${key} in history`).toBeCloseTo(value, 6);
      }
    }
    // Batch logs hold the batch's own ratio, thresholded at 0.5 (tfjs's own precision gives 0 here).
    expect(batches[0].precision).toBeCloseTo(0.25, 6);
    expect(batches[1].precision).toBeCloseTo(1, 6);
    expect(batches[1].recall).toBeCloseTo(1 / 3, 6);
  });

  it("are 0 when nothing is predicted (or is) positive, as Keras's divide_no_nan", async () => {
    const model = await identity({ metrics: ["precision", "recall"] });
    const history = await model.fit(column([0.1, 0.2]), column([0, 0]), { epochs: 1, verbose: 0 });
    expect(history.history.precision[0]).toBe(0);
    expect(history.history.recall[0]).toBe(0);
  });

  it("leave no tensors behind across fits", async () => {
    const model = await identity({ metrics: ["precision", "recall", "auc"] });
    const [t, v] = [train(), validation()];
    const fit = () =>
      model.fit(t.x, t.y, { epochs: 2, batchSize: 4, verbose: 0, validationData: [v.x, v.y] });
    await fit();
    const before = tf.memory().numTensors;
    await fit();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe("auc as Keras computes it (ROC, 200 thresholds, trapezoids)", () => {
  it("is the epoch's AUC from counts over all batches, not a mean of batch AUCs", async () => {
    const model = await identity({ metrics: ["auc"] });
    const history = await fitTwoEpochs(model);
    // With no two predictions between the same thresholds (but for ties), the trapezoids are the share of
    // (positive, negative) pairs ranked right, a tie counting half.
    // Training: positives 0.9, 0.9, 0.1, 0.2; negatives 0.8, 0.7, 0.6, 0.3: each 0.9 beats all 4 → 8 / 16.
    // (Batch AUCs are 1 and 1/3, their mean 0.667.)
    // Validation: positives 0.6, 0.9, 0.2; negatives 0.7, 0.8, 0.9: 0.9 beats 0.7 and 0.8 and ties 0.9 → 2.5 / 9.
    for (const epoch of [0, 1]) {
      expect(history.history.auc[epoch] as number).toBeCloseTo(0.5, 6);
      expect(history.history.val_auc[epoch] as number).toBeCloseTo(2.5 / 9, 6);
    }
  });

  it("has Keras's thresholds: 0 - 1e-7, i / 199, 1 + 1e-7", () => {
    const thresholds = aucThresholds();
    expect(thresholds).toHaveLength(200);
    expect(thresholds[0]).toBe(-1e-7);
    expect(thresholds[1]).toBe(1 / 199);
    expect(thresholds[199]).toBe(1 + 1e-7);
  });
});

describe("top_k_categorical_accuracy", () => {
  it("counts the true class in the top 5, ties with the fifth included, under Keras's name", async () => {
    const model = await buildModel(tf, {
      layers: [{ class_name: "Dense", config: { units: 7, input_shape: [7], use_bias: false } }],
    });
    const spec = { optimizer: "sgd" as const, loss: "categorical_crossentropy" as const };
    compileModel(tf, model, { ...spec, metrics: ["top_k_categorical_accuracy"] });
    expect(logKeys({ metrics: ["top_k_categorical_accuracy"] }, false)).toEqual([
      "loss",
      "top_k_categorical_accuracy",
    ]);
    const metric = (model as unknown as { metricsTensors: [(a: Tensor, b: Tensor) => Tensor, number][] })
      .metricsTensors[0][0];
    const yPred = tf.tensor2d([
      [0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1], // class 4 is 5th: in
      [0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1], // class 5 is 6th: out
      [0.7, 0.6, 0.5, 0.4, 0.3, 0.3, 0.1], // class 5 ties the 5th: in
      [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], // all tied: in
    ]);
    const yTrue = tf.oneHot(tf.tensor1d([4, 5, 5, 6], "int32"), 7);
    expect(Array.from(metric(yTrue, yPred).dataSync())).toEqual([1, 0, 1, 1]);
  });
});

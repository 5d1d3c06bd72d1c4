import { type CompileSpec, CompileSpecSchema } from "@plateau/contract";
import type { LayersModel, Tensor } from "@tensorflow/tfjs";
import Value from "typebox/value";
import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend, type Tf } from "./backend";
import { checkCompile, compileModel } from "./compile";
import { buildModel } from "./model";

let tf: Tf;
beforeAll(async () => {
  tf = (await selectBackend("cpu")).tf;
});

/** The loss `compileModel` gives the model for this spec, on these labels and predictions (mean over samples). */
async function lossOf(loss: CompileSpec["loss"], yTrue: number[][], yPred: number[][]): Promise<number> {
  const model = await buildModel(tf, {
    layers: [{ class_name: "Dense", config: { units: yPred[0].length, input_shape: [1] } }],
  });
  compileModel(tf, model, { optimizer: "sgd", loss });
  // The function tfjs's training step calls.
  const compiled = (model as LayersModel & { model?: LayersModel }).model ?? model;
  const fn = compiled.lossFunctions[0] as (a: Tensor, b: Tensor) => Tensor;
  const value = tf.mean(fn(tf.tensor2d(yTrue), tf.tensor2d(yPred)));
  return (await value.data())[0];
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
const logSumExp = (row: number[]) => Math.log(row.reduce((a, v) => a + Math.exp(v), 0));

describe("losses as Keras-serialized objects, with Keras's formulas", () => {
  it("SparseCategoricalCrossentropy from logits: logsumexp(x) - x[label]", async () => {
    const logits = [
      [1, 2, 3],
      [0.5, -1, 0],
    ];
    const expected = mean([logSumExp(logits[0]) - 3, logSumExp(logits[1]) - 0.5]);
    const spec = { class_name: "SparseCategoricalCrossentropy", config: { from_logits: true } } as const;
    expect(await lossOf(spec, [[2], [0]], logits)).toBeCloseTo(expected, 5);
  });

  it("SparseCategoricalCrossentropy from probabilities: -log p[label]", async () => {
    const spec = { class_name: "SparseCategoricalCrossentropy" } as const;
    expect(await lossOf(spec, [[1]], [[0.1, 0.6, 0.3]])).toBeCloseTo(-Math.log(0.6), 5);
  });

  it("CategoricalCrossentropy with label_smoothing 0.1 spreads 0.1 over the 3 classes", async () => {
    const p = [0.2, 0.7, 0.1];
    const target = [0.1 / 3, 0.9 + 0.1 / 3, 0.1 / 3];
    const expected = -target.reduce((a, t, i) => a + t * Math.log(p[i]), 0);
    const spec = { class_name: "CategoricalCrossentropy", config: { label_smoothing: 0.1 } } as const;
    expect(await lossOf(spec, [[0, 1, 0]], [p])).toBeCloseTo(expected, 5);
  });

  it("CategoricalCrossentropy from logits", async () => {
    const logits = [2, -1, 0.5];
    const spec = { class_name: "CategoricalCrossentropy", config: { from_logits: true } } as const;
    expect(await lossOf(spec, [[0, 0, 1]], [logits])).toBeCloseTo(logSumExp(logits) - 0.5, 5);
  });

  it("BinaryCrossentropy from logits with label_smoothing 0.2: labels 1, 0 become 0.9, 0.1", async () => {
    const x = [2, -1];
    const z = [0.9, 0.1];
    // max(x, 0) - x·z + log(1 + exp(-|x|)), averaged over the last axis.
    const expected = mean(x.map((v, i) => Math.max(v, 0) - v * z[i] + Math.log1p(Math.exp(-Math.abs(v)))));
    const spec = {
      class_name: "BinaryCrossentropy",
      config: { from_logits: true, label_smoothing: 0.2 },
    } as const;
    expect(await lossOf(spec, [[1, 0]], [x])).toBeCloseTo(expected, 5);
  });

  it("BinaryCrossentropy from probabilities clips at Keras's epsilon 1e-7", async () => {
    // p = 1 for a label 0: Keras clips p to 1 - 1e-7 (in float32), so the loss is -log(1 - fround(1 - 1e-7)).
    const spec = { class_name: "BinaryCrossentropy", config: {} } as const;
    const expected = mean([-Math.log(1 - Math.fround(1 - 1e-7)), -Math.log(0.8)]);
    expect(await lossOf(spec, [[0, 1]], [[1, 0.8]])).toBeCloseTo(expected, 3);
  });

  it("Huber (delta 1.5) and huber by name (delta 1)", async () => {
    // Errors 0.5 and -2: 0.5·0.25 = 0.125; 1.5·2 - 0.5·1.5² = 1.875.
    const spec = { class_name: "Huber", config: { delta: 1.5 } } as const;
    expect(await lossOf(spec, [[0, 0]], [[0.5, -2]])).toBeCloseTo((0.125 + 1.875) / 2, 6);
    // delta 1: 0.125 and 1·2 - 0.5 = 1.5.
    expect(await lossOf("huber", [[0, 0]], [[0.5, -2]])).toBeCloseTo((0.125 + 1.5) / 2, 6);
  });

  it("trains through model.fit: the loss falls on a separable problem from logits", async () => {
    const model = await buildModel(tf, {
      layers: [{ class_name: "Dense", config: { units: 2, input_shape: [1], kernel_initializer: "zeros" } }],
    });
    const loss = { class_name: "SparseCategoricalCrossentropy", config: { from_logits: true } } as const;
    compileModel(tf, model, { optimizer: { name: "sgd", learning_rate: 0.5 }, loss });
    const x = tf.tensor2d([[-1], [-2], [1], [2]]);
    const y = tf.tensor2d([[0], [0], [1], [1]]);
    const history = await model.fit(x, y, { epochs: 5, batchSize: 4, verbose: 0 });
    const losses = history.history.loss as number[];
    // Zero weights: logits 0, so the first loss is log 2 whatever the label (tfjs's loss would be higher).
    expect(losses[0]).toBeCloseTo(Math.log(2), 5);
    expect(losses[4]).toBeLessThan(losses[0]);
  });

  it("accepts what Keras's serialization writes, at the values that change nothing", () => {
    const keras = {
      module: "keras.losses",
      class_name: "SparseCategoricalCrossentropy",
      config: {
        name: "sparse_categorical_crossentropy",
        reduction: "sum_over_batch_size",
        from_logits: true,
        ignore_class: null,
      },
      registered_name: null,
    };
    const spec = { optimizer: "adam", loss: keras };
    expect(Value.Check(CompileSpecSchema, spec)).toBe(true);
    expect(checkCompile(spec)).toEqual([]);
  });

  it("refuses unknown classes, keys and values, naming the field", () => {
    const issues = (loss: unknown) => checkCompile({ optimizer: "sgd", loss });
    expect(issues({ class_name: "Huber", config: { delta: 1, epsilon: 2 } })).toEqual([
      {
        path: "/compile/loss/config/epsilon",
        message: 'unknown parameter "epsilon" for Huber; supported: name, reduction, dtype, delta',
      },
    ]);
    expect(issues({ class_name: "Huber", confg: {} })[0].path).toBe("/compile/loss/confg");
    expect(issues({ class_name: "FocalLoss" })[0].path).toBe("/compile/loss/class_name");
    expect(issues({ class_name: "BinaryCrossentropy", config: { reduction: "sum" } })[0].path).toBe(
      "/compile/loss/config/reduction",
    );
    expect(issues({ class_name: "BinaryCrossentropy", config: { label_smoothing: 2 } })[0].path).toBe(
      "/compile/loss/config/label_smoothing",
    );
    expect(issues({ class_name: "BinaryCrossentropy", config: { from_logits: "yes" } })[0].message).toBe(
      "must be a boolean",
    );
    expect(
      Value.Check(CompileSpecSchema, {
        optimizer: "sgd",
        loss: { class_name: "Huber", config: { epsilon: 1 } },
      }),
    ).toBe(false);
  });
});

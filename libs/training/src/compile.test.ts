import type { CompileSpec } from "@plateau/contract";
import type { LayersModel } from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend, type Tf } from "./backend";
import { buildOptimizer, checkCompile, compileModel, logKeys } from "./compile";
import { buildModel } from "./model";
import { SpecError } from "./spec-error";

let tf: Tf;
beforeAll(async () => {
  tf = (await selectBackend("cpu")).tf;
});

/** y = w·x with w = 1, no bias: one step on x = 1, y = 0 under MSE has gradient g = 2. */
async function oneWeight(): Promise<LayersModel> {
  return buildModel(tf, {
    layers: [
      {
        class_name: "Dense",
        config: { units: 1, input_shape: [1], use_bias: false, kernel_initializer: "ones" },
      },
    ],
  });
}

async function weightAfterOneStep(optimizer: CompileSpec["optimizer"]): Promise<number> {
  const model = await oneWeight();
  compileModel(tf, model, { optimizer, loss: "mse" });
  await model.fit(tf.tensor2d([[1]]), tf.tensor2d([[0]]), { epochs: 1, batchSize: 1, verbose: 0 });
  return model.getWeights()[0].dataSync()[0];
}

describe("optimizers", () => {
  const g = 2;
  // Expected weights follow Keras's update rules for the first step from w = 1.
  const cases: { spec: CompileSpec["optimizer"]; expected: number }[] = [
    { spec: { name: "sgd", learning_rate: 0.1 }, expected: 1 - 0.1 * g },
    {
      spec: { name: "sgd", learning_rate: 0.1, momentum: 0.9, nesterov: true },
      expected: 1 - (0.9 * 0.1 * g + 0.1 * g),
    },
    { spec: { name: "momentum", learning_rate: 0.1 }, expected: 1 - 0.1 * g },
    { spec: { name: "adam", learning_rate: 0.1 }, expected: 1 - 0.1 * (g / (g + 1e-7)) },
    { spec: { name: "adamax", learning_rate: 0.1 }, expected: 1 - 0.1 * ((0.1 * g) / 0.1 / (g + 1e-7)) },
    {
      spec: { name: "rmsprop", learning_rate: 0.01, rho: 0.5 },
      expected: 1 - (0.01 * g) / Math.sqrt(0.5 * g * g + 1e-7),
    },
    {
      spec: { name: "adagrad", learning_rate: 0.1, initial_accumulator_value: 0.5 },
      expected: 1 - (0.1 * g) / Math.sqrt(0.5 + g * g + 1e-7),
    },
    {
      // tfjs's own Adadelta would move w to 1 - g here (it divides by the pre-step accumulator).
      spec: { name: "adadelta", learning_rate: 1, rho: 0.5 },
      expected: 1 - (Math.sqrt(1e-7) / Math.sqrt(0.5 * g * g + 1e-7)) * g,
    },
  ];
  for (const { spec, expected } of cases) {
    it(`${JSON.stringify(spec)} takes Keras's first step`, async () => {
      expect(await weightAfterOneStep(spec)).toBeCloseTo(expected, 5);
    });
  }

  it("fills Keras defaults (adam: learning_rate 0.001, epsilon 1e-7)", () => {
    expect(buildOptimizer(tf, "adam").getConfig()).toEqual({
      learningRate: 0.001,
      beta1: 0.9,
      beta2: 0.999,
      epsilon: 1e-7,
    });
    expect(buildOptimizer(tf, { name: "rmsprop", rho: 0.8, centered: true }).getConfig()).toEqual({
      learningRate: 0.001,
      decay: 0.8,
      momentum: 0,
      epsilon: 1e-7,
      centered: true,
    });
    expect(buildOptimizer(tf, { name: "momentum", nesterov: true }).getConfig()).toEqual({
      learningRate: 0.01,
      momentum: 0.9,
      nesterov: true,
    });
  });

  it("refuses unknown parameters and unsupported optimizers with their paths", () => {
    expect(() => buildOptimizer(tf, { name: "adam", beta1: 0.8 } as never)).toThrow(SpecError);
    const issues = checkCompile({
      optimizer: { name: "adam", beta1: 0.8, amsgrad: 1, learning_rate: 0 },
      loss: "mse",
    });
    expect(issues.map((issue) => issue.path)).toEqual([
      "/compile/optimizer/beta1",
      "/compile/optimizer/amsgrad",
      "/compile/optimizer/learning_rate",
    ]);
    expect(issues[0].message).toBe(
      'unknown parameter "beta1" for adam; supported: learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay, clipnorm, clipvalue, global_clipnorm',
    );
    expect(checkCompile({ optimizer: "ftrl", loss: "mse" })[0]).toEqual({
      path: "/compile/optimizer",
      message: expect.stringContaining('unsupported optimizer "ftrl"'),
    });
  });
});

describe("losses and metrics", () => {
  it("names unsupported losses and metrics, and repeated metrics", () => {
    const issues = checkCompile({
      optimizer: "sgd",
      loss: "focal",
      metrics: ["accuracy", "f1_score", "acc"],
    });
    expect(issues.map((issue) => issue.path)).toEqual([
      "/compile/loss",
      "/compile/metrics/1",
      "/compile/metrics/2",
    ]);
    expect(issues[2].message).toBe('"acc" repeats "accuracy"');
  });

  it("hinge reads 0/1 labels as -1/1, as Keras does", async () => {
    const model = await oneWeight();
    compileModel(tf, model, { optimizer: "sgd", loss: "hinge" });
    const loss = model.evaluate(tf.tensor2d([[0.5], [-0.3]]), tf.tensor2d([[1], [0]])) as unknown as {
      dataSync(): Float32Array;
    };
    // Labels 1, 0 → 1, -1: mean(max(0, 1 - 0.5), max(0, 1 - 0.3)).
    expect(loss.dataSync()[0]).toBeCloseTo((0.5 + 0.7) / 2, 6);
  });

  const combos: { loss: string; metrics: string[]; units: number }[] = [
    {
      loss: "sparse_categorical_crossentropy",
      metrics: ["accuracy", "sparse_categorical_crossentropy"],
      units: 3,
    },
    {
      loss: "categorical_crossentropy",
      metrics: ["acc", "categorical_accuracy", "categorical_crossentropy"],
      units: 3,
    },
    {
      loss: "binary_crossentropy",
      metrics: ["binary_accuracy", "precision", "recall", "binary_crossentropy"],
      units: 1,
    },
    { loss: "mean_squared_error", metrics: ["mae", "mean_squared_error", "mape", "r2_score"], units: 1 },
    { loss: "sparse_categorical_crossentropy", metrics: ["sparse_categorical_accuracy"], units: 3 },
  ];
  for (const { loss, metrics, units } of combos) {
    it(`logKeys predicts what tfjs logs for ${loss} with ${metrics.join(", ")}`, async () => {
      const model = await buildModel(tf, {
        layers: [
          {
            class_name: "Dense",
            config: { units, input_shape: [2], activation: units === 1 ? "sigmoid" : "softmax" },
          },
        ],
      });
      const spec = { optimizer: "sgd" as const, loss: loss as CompileSpec["loss"], metrics };
      compileModel(tf, model, spec);
      const labels = [0, 1, 2, 1, 0, 1, 2, 0].map((v) => (units === 1 ? v % 2 : v));
      const y =
        loss === "categorical_crossentropy"
          ? tf.oneHot(tf.tensor1d(labels, "int32"), units).toFloat()
          : tf.tensor2d(labels, [8, 1]);
      const x = tf.randomNormal([8, 2], 0, 1, "float32", 3);
      const withValidation = await model.fit(x, y, { epochs: 1, validationSplit: 0.25, verbose: 0 });
      expect(Object.keys(withValidation.history).sort()).toEqual(logKeys(spec, true).sort());
      const without = await model.fit(x, y, { epochs: 1, verbose: 0 });
      expect(Object.keys(without.history).sort()).toEqual(logKeys(spec, false).sort());
    });
  }
});

import type { LayersModel, Tensor } from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend, type Tf } from "./backend";
import { compileModel } from "./compile";
import { buildModel, checkModel, countModelParams } from "./model";

// The default install trains on wasm: these layers must run there, forward and backward.
let tf: Tf;
beforeAll(async () => {
  tf = (await selectBackend("wasm", { log: () => {} })).tf;
});

type Layer = { class_name: string; config?: Record<string, unknown> };

async function model(layers: Layer[]): Promise<LayersModel> {
  return buildModel(tf, { layers } as never);
}

function predict(m: LayersModel, rows: number[][]): number[] {
  return tf.tidy(() => Array.from((m.predict(tf.tensor2d(rows)) as Tensor).dataSync()));
}

/** Trains one SGD step and says whether every trainable weight moved, leaking no tensors. */
async function trainsOneStep(m: LayersModel, x: Tensor, y: Tensor): Promise<boolean> {
  compileModel(tf, m, { optimizer: { name: "adamw", learning_rate: 0.01 }, loss: "mse" });
  const before = m.trainableWeights.map((w) => w.read().dataSync().slice());
  const tensors = tf.memory().numTensors;
  await m.fit(x, y, { epochs: 1, batchSize: x.shape[0], verbose: 0 });
  await m.fit(x, y, { epochs: 1, batchSize: x.shape[0], verbose: 0 });
  const leaked = tf.memory().numTensors - tensors;
  const moved = m.trainableWeights.every((w, i) =>
    w
      .read()
      .dataSync()
      .some((v, j) => v !== before[i][j]),
  );
  // The second fit leaves what the first did (optimizer slots): growth between them would be a leak.
  return moved && leaked <= m.trainableWeights.length * 3 + 1;
}

describe("Rescaling", () => {
  it("computes x · scale + offset with no parameters, as Keras", async () => {
    const m = await model([
      { class_name: "Rescaling", config: { scale: 1 / 255, offset: -1, input_shape: [2] } },
    ]);
    expect(m.countParams()).toBe(0);
    const out = predict(m, [
      [0, 255],
      [127.5, 51],
    ]);
    [-1, 0, -0.5, -0.8].forEach((value, i) => {
      expect(out[i]).toBeCloseTo(value, 6);
    });
    expect(m.layers[0].getConfig()).toMatchObject({ scale: 1 / 255, offset: -1 });
  });

  it("takes a per-channel scale, also as Keras 3 serializes a NumPy array", async () => {
    const scale = { class_name: "__numpy__", config: { value: [2, 10], dtype: "float32" } };
    const m = await model([{ class_name: "Rescaling", config: { scale, offset: [1, 0], input_shape: [2] } }]);
    expect(
      predict(m, [
        [1, 1],
        [0.5, -1],
      ]),
    ).toEqual([3, 10, 2, -10]);
  });

  it("refuses a missing scale, or one that is not numbers, naming the field", () => {
    const issues = (config: object) =>
      checkModel({ layers: [{ class_name: "Rescaling", config: { input_shape: [2], ...config } }] });
    expect(issues({})).toEqual([
      { path: "/model/layers/0/config/scale", message: "is required (Keras's Rescaling has no default)" },
    ]);
    expect(issues({ scale: 1, offset: "1" })[0]).toEqual({
      path: "/model/layers/0/config/offset",
      message: "must be a number or a non-empty nested list of numbers (at most 8 deep)",
    });
  });

  it("a scale that does not broadcast to the input is a build error naming the shapes", async () => {
    await expect(
      model([{ class_name: "Rescaling", config: { scale: [1, 2, 3], input_shape: [2] } }]),
    ).rejects.toThrow(/Rescaling of shape \[3\] does not broadcast to inputs of shape \[,2\]/);
  });
});

describe("Normalization", () => {
  const mean = [1, -2, 0.5];
  const variance = [4, 0.25, 0];

  it("standardizes per feature with Keras's floor on √variance, and has Keras's parameter count (0 when mean and variance are given)", async () => {
    const m = await model([{ class_name: "Normalization", config: { mean, variance, input_shape: [3] } }]);
    expect(
      await countModelParams(tf, {
        layers: [{ class_name: "Normalization", config: { mean, variance, input_shape: [3] } }],
      } as never),
    ).toBe(0);
    const out = predict(m, [[3, -1, 0.5]]);
    expect(out[0]).toBeCloseTo((3 - 1) / 2, 6);
    expect(out[1]).toBeCloseTo((-1 + 2) / 0.5, 6);
    // √0 is floored at Keras's epsilon (1e-7): the feature equal to its mean stays 0.
    expect(out[2]).toBe(0);
  });

  it("inverts, and takes Keras 3's to_json() form (axis as a list, scalar mean and variance)", async () => {
    const config = {
      name: "normalization",
      trainable: true,
      dtype: {
        module: "keras",
        class_name: "DTypePolicy",
        config: { name: "float32" },
        registered_name: null,
      },
      axis: [-1],
      invert: true,
      mean: 10,
      variance: 9,
      input_shape: [2],
    };
    const out = predict(await model([{ class_name: "Normalization", config }]), [[1, -1]]);
    expect(out[0]).toBeCloseTo(13, 5);
    expect(out[1]).toBeCloseTo(7, 5);
  });

  it("normalizes a chosen axis of images (per channel)", async () => {
    const m = await model([
      {
        class_name: "Normalization",
        config: { axis: -1, mean: [1, 2], variance: [1, 4], input_shape: [2, 2, 2] },
      },
    ]);
    const out = tf.tidy(() => Array.from((m.predict(tf.ones([1, 2, 2, 2])) as Tensor).dataSync()));
    expect(out).toEqual([0, -0.5, 0, -0.5, 0, -0.5, 0, -0.5]);
  });

  it("refuses what Keras raises, and a layer that would need adapt(), naming the field", () => {
    const issues = (config: Record<string, unknown>) =>
      checkModel({ layers: [{ class_name: "Normalization", config: { input_shape: [3], ...config } }] });
    expect(issues({})).toEqual([
      {
        path: "/model/layers/0/config/mean",
        message: expect.stringMatching(
          /^Normalization needs mean and variance: Keras computes them with adapt\(\)/,
        ),
      },
    ]);
    expect(issues({ mean: [1, 2, 3], variance: [1, 2] })).toEqual([
      {
        path: "/model/layers/0/config/variance",
        message: "must have the shape of mean ([3]), got [2] (Keras raises ValueError)",
      },
    ]);
    expect(issues({ mean: [[1, 2], [3]], variance: [1, 1e-7] })[0]).toEqual({
      path: "/model/layers/0/config/mean",
      message: "must be rectangular (every row the same shape)",
    });
    expect(issues({ mean: [0, 0, 0], variance: [1, -1, 1e-7] })[0].message).toBe(
      "must be ≥ 0 everywhere (a variance)",
    );
    expect(issues({ mean: [[0, 0, 0]], variance: [[1, 1, 1]] })[0]).toMatchObject({
      path: "/model/layers/0/config/mean",
      message: expect.stringContaining("more than the 1 axes kept"),
    });
  });

  it("a mean that does not fit the input is a build error naming the shapes", async () => {
    await expect(
      model([{ class_name: "Normalization", config: { mean: [1, 2], variance: [1, 1], input_shape: [3] } }]),
    ).rejects.toThrow(/Normalization mean of shape \[2\] does not match inputs of shape \[,3\]/);
  });
});

describe("SeparableConv2D", () => {
  it("refuses a depth_multiplier tfjs would not save", () => {
    const layer = {
      class_name: "SeparableConv2D",
      config: { filters: 2, kernel_size: 3, depth_multiplier: 2, input_shape: [6, 6, 1] },
    };
    expect(checkModel({ layers: [layer] })).toEqual([
      {
        path: "/model/layers/0/config/depth_multiplier",
        message:
          'SeparableConv2D option "depth_multiplier" = 2 is not supported by the training backend; only 1 is',
      },
    ]);
  });

  it("has Keras's parameters (depthwise + pointwise + bias) and trains on wasm", async () => {
    const m = await model([
      {
        class_name: "SeparableConv2D",
        config: {
          filters: 4,
          kernel_size: [3, 3],
          activation: "relu",
          input_shape: [6, 6, 3],
        },
      },
      { class_name: "Flatten" },
      { class_name: "Dense", config: { units: 1 } },
    ]);
    // 3·3·3 depthwise + 1·1·3·4 pointwise + 4 bias, then Dense 4·4·4 + 1.
    expect(m.countParams()).toBe(27 + 12 + 4 + 65);
    const x = tf.randomUniform([4, 6, 6, 3], 0, 1, "float32", 1);
    const y = tf.randomUniform([4, 1], 0, 1, "float32", 2);
    expect(await trainsOneStep(m, x, y)).toBe(true);
  });
});

describe("Keras 3 activations", () => {
  const xs = [-4, -1, 0, 2, 4];
  const hardSigmoid = (x: number) => Math.min(Math.max(x + 3, 0), 6) / 6;
  for (const [activation, formula] of [
    ["hard_sigmoid", hardSigmoid],
    ["hard_silu", (x: number) => x * hardSigmoid(x)],
    ["hard_swish", (x: number) => x * hardSigmoid(x)],
  ] as const) {
    it(`${activation} is Keras 3's relu6(x + 3) / 6 form (tfjs's hard_sigmoid gives 0.3 at -1)`, async () => {
      const m = await model([{ class_name: "Activation", config: { activation, input_shape: [xs.length] } }]);
      const out = predict(m, [xs]);
      xs.forEach((x, i) => {
        expect(out[i]).toBeCloseTo(formula(x), 6);
      });
    });
  }

  it("trains through Rescaling, Normalization and a hard_silu Dense on wasm", async () => {
    const m = await model([
      { class_name: "Rescaling", config: { scale: 0.5, input_shape: [3] } },
      { class_name: "Dense", config: { units: 4, activation: "hard_silu" } },
      { class_name: "Normalization", config: { mean: 0.1, variance: 2 } },
      { class_name: "Dense", config: { units: 1, activation: "hard_sigmoid" } },
    ]);
    const x = tf.randomUniform([8, 3], -3, 3, "float32", 3);
    const y = tf.randomUniform([8, 1], 0, 1, "float32", 4);
    expect(await trainsOneStep(m, x, y)).toBe(true);
  });
});

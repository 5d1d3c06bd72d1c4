import { readFileSync } from "node:fs";
import type { CompileSpec, DataSpec } from "@plateau/contract";
import { exampleJob } from "@plateau/spec/example";
import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend, type Tf } from "./backend";
import { compileModel } from "./compile";
import { loadData } from "./data";
import { buildModel, checkModel, countModelParams } from "./model";
import { SpecError } from "./spec-error";

let tf: Tf;
beforeAll(async () => {
  tf = (await selectBackend("cpu")).tf;
});

const fixture = (name: string) =>
  readFileSync(new URL(`../fixtures/keras/${name}.json`, import.meta.url), "utf8");

async function specError(promise: Promise<unknown>): Promise<SpecError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SpecError);
  return error as SpecError;
}

describe("Keras JSON fixtures", () => {
  // Parameter counts as Keras reports them for these architectures (model.count_params()).
  const cases = [
    { name: "keras2-sequential", params: 179 },
    { name: "keras2-functional", params: 193 },
    { name: "keras3-sequential", params: 1424 },
    { name: "keras3-functional", params: 142 },
    // Bidirectional(LSTM(8), merge_mode="concat") on (10, 3) → Dense(1): each LSTM direction has
    // 4 gates × (3 inputs × 8 + 8 recurrent × 8 + 8 biases) = 4 × 96 = 384, two directions 768; the
    // concatenated 16 features feed Dense(1): 16 + 1 = 17. Total 785.
    { name: "keras3-bidirectional", params: 785 },
  ];

  for (const { name, params } of cases) {
    it(`${name} builds with Keras's parameter count and trains one step`, async () => {
      expect(checkModel({ keras_json: fixture(name) })).toEqual([]);
      const model = await buildModel(tf, { keras_json: JSON.parse(fixture(name)) });
      expect(model.countParams()).toBe(params);
      expect(await countModelParams(tf, { keras_json: fixture(name) })).toBe(params);

      const inputShape = model.inputs[0].shape.slice(1) as number[];
      const units = model.outputs[0].shape[1] as number;
      const x = tf.randomUniform([8, ...inputShape], 0, 10, "float32", 1);
      const labels = tf.tensor1d([0, 1, 0, 1, 1, 0, 1, 0], "int32");
      const y = units === 1 ? labels.reshape([8, 1]).toFloat() : tf.oneHot(labels, units).toFloat();
      compileModel(tf, model, {
        optimizer: { name: "sgd", learning_rate: 0.1 },
        loss: units === 1 ? "binary_crossentropy" : "categorical_crossentropy",
      });
      const before = model.getWeights().map((w) => w.dataSync().slice());
      const history = await model.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0 });
      expect(Number.isFinite(history.history.loss[0] as number)).toBe(true);
      const changed = model.getWeights().some((w, i) => w.dataSync().some((v, j) => v !== before[i][j]));
      expect(changed).toBe(true);
    });
  }

  it("accepts the Keras JSON as text or object and inside a tfjs model.json", async () => {
    const topology = JSON.parse(fixture("keras2-functional"));
    const wrapped = await buildModel(tf, { keras_json: { format: "layers-model", modelTopology: topology } });
    expect(wrapped.countParams()).toBe(193);
  });

  it("names unparseable JSON and an unknown model class", async () => {
    expect(checkModel({ keras_json: "{not json" })[0].path).toBe("/model/keras_json");
    const issues = checkModel({ keras_json: { class_name: "MyModel", config: {} } });
    expect(issues).toEqual([
      { path: "/model/keras_json/class_name", message: expect.stringContaining("MyModel") },
    ]);
  });

  it("reports a Keras 3 layer it cannot build at its path in the JSON", async () => {
    const doc = JSON.parse(fixture("keras3-functional"));
    doc.config.layers[3].class_name = "Lambda";
    const error = await specError(buildModel(tf, { keras_json: doc }));
    expect(error.issues).toEqual([
      {
        path: "/model/keras_json/config/layers/3/class_name",
        message: expect.stringMatching(/^unsupported layer "Lambda"; supported: InputLayer, Dense,/),
      },
    ]);
  });
});

/** Builds `layers` after an input of shape [4], trains one SGD step and checks the weights moved. */
async function trainsOneStep(layers: unknown[], inputShape = [4]) {
  const model = await buildModel(tf, {
    layers: [
      { class_name: "InputLayer", config: { shape: inputShape } },
      ...layers,
      { class_name: "Dense", config: { units: 1 } },
    ],
  } as never);
  compileModel(tf, model, { optimizer: { name: "sgd", learning_rate: 0.1 }, loss: "mse" });
  const x = tf.randomUniform([8, ...inputShape], -2, 2, "float32", 2);
  const y = tf.randomUniform([8, 1], 0, 1, "float32", 3);
  const before = model.getWeights().map((w) => w.dataSync().slice());
  const history = await model.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0 });
  expect(Number.isFinite(history.history.loss[0] as number)).toBe(true);
  expect(model.getWeights().some((w, i) => w.dataSync().some((v, j) => v !== before[i][j]))).toBe(true);
  return model;
}

describe("activation layers, activations and Bidirectional", () => {
  const activations = [
    "elu",
    "selu",
    "gelu",
    "silu",
    "swish",
    "softplus",
    "softsign",
    "hard_sigmoid",
    "mish",
    "linear",
    "relu6",
  ];
  for (const activation of activations) {
    it(`activation "${activation}" builds and trains one step`, async () => {
      await trainsOneStep([{ class_name: "Dense", config: { units: 3, activation } }]);
    });
  }

  // Each Keras layer, the tfjs layer it becomes and what that layer's config must say.
  const layers: { layer: { class_name: string; config: object }; builds: string; expected: object }[] = [
    {
      layer: { class_name: "ReLU", config: { max_value: 1.5, negative_slope: 0, threshold: 0 } },
      builds: "ReLU",
      expected: { maxValue: 1.5 },
    },
    {
      layer: { class_name: "ReLU", config: { max_value: null, negative_slope: 0.1, threshold: 0 } },
      builds: "LeakyReLU",
      expected: { alpha: 0.1 },
    },
    {
      layer: { class_name: "LeakyReLU", config: { negative_slope: 0.1 } },
      builds: "LeakyReLU",
      expected: { alpha: 0.1 },
    },
    {
      layer: { class_name: "LeakyReLU", config: { alpha: 0.2 } },
      builds: "LeakyReLU",
      expected: { alpha: 0.2 },
    },
    { layer: { class_name: "LeakyReLU", config: {} }, builds: "LeakyReLU", expected: { alpha: 0.3 } },
    {
      layer: { class_name: "PReLU", config: { alpha_initializer: "zeros", shared_axes: null } },
      builds: "PReLU",
      expected: { sharedAxes: null },
    },
    { layer: { class_name: "ELU", config: { alpha: 1.0 } }, builds: "ELU", expected: { alpha: 1 } },
    { layer: { class_name: "Softmax", config: {} }, builds: "Softmax", expected: { axis: -1 } },
  ];
  for (const { layer, builds, expected } of layers) {
    it(`${layer.class_name} ${JSON.stringify(layer.config)} builds a tfjs ${builds} and trains one step`, async () => {
      const model = await trainsOneStep([{ class_name: "Dense", config: { units: 3 } }, layer]);
      const built = model.layers.find((l) => l.getClassName() === builds);
      expect(built?.getConfig()).toMatchObject(expected);
    });
  }

  for (const merge_mode of ["concat", "sum", "ave", "mul", undefined]) {
    for (const rnn of ["LSTM", "GRU", "SimpleRNN"]) {
      it(`Bidirectional(${rnn}) merge_mode ${merge_mode ?? "(Keras default concat)"} builds and trains one step`, async () => {
        const layer = {
          class_name: rnn,
          config: { units: 3, return_sequences: true, ...(rnn === "GRU" ? { reset_after: false } : {}) },
        };
        const model = await trainsOneStep(
          [
            { class_name: "Bidirectional", config: { layer, ...(merge_mode ? { merge_mode } : {}) } },
            { class_name: "Flatten" },
          ],
          [5, 2],
        );
        const width = (merge_mode ?? "concat") === "concat" ? 6 : 3;
        expect(model.layers.find((l) => l.getClassName() === "Bidirectional")?.outputShape).toEqual([
          null,
          5,
          width,
        ]);
      });
    }
  }
  it("takes the input shape on a first Bidirectional layer, as Keras 2 users write it", async () => {
    const model = await buildModel(tf, {
      layers: [
        {
          class_name: "Bidirectional",
          config: { layer: { class_name: "LSTM", config: { units: 8 } }, input_shape: [10, 3] },
        },
        { class_name: "Dense", config: { units: 1 } },
      ],
    });
    expect(model.countParams()).toBe(785);
  });
});

describe("layers spec", () => {
  it("builds the jobs issue's example model and trains it on iris", async () => {
    const example = exampleJob();
    const model = await buildModel(tf, example.model);
    expect(model.countParams()).toBe(4 * 64 + 64 + 64 * 3 + 3);
    expect(await countModelParams(tf, example.model)).toBe(model.countParams());
    compileModel(tf, model, example.compile as CompileSpec);
    const { train } = loadData(tf, example.data as DataSpec);
    const history = await model.fit(train.x, train.y, {
      epochs: 2,
      batchSize: 16,
      validationSplit: 0.2,
      verbose: 0,
    });
    expect(Object.keys(history.history).sort()).toEqual(["acc", "loss", "val_acc", "val_loss"]);
  });

  it("builds every supported layer family from Keras names and snake_case configs", async () => {
    const model = await buildModel(tf, {
      layers: [
        { class_name: "InputLayer", config: { shape: [12] } },
        { class_name: "Embedding", config: { input_dim: 20, output_dim: 4 } },
        { class_name: "Conv1D", config: { filters: 4, kernel_size: 3, padding: "same", activation: "relu" } },
        { class_name: "AveragePooling1D", config: { pool_size: 2 } },
        { class_name: "SimpleRNN", config: { units: 4, return_sequences: true } },
        { class_name: "GRU", config: { units: 4, return_sequences: true, reset_after: false } },
        { class_name: "LSTM", config: { units: 4, return_sequences: true } },
        { class_name: "LayerNormalization", config: { epsilon: 1e-5 } },
        { class_name: "GlobalAveragePooling1D" },
        { class_name: "Reshape", config: { target_shape: [2, 2, 1] } },
        {
          class_name: "Conv2D",
          config: {
            filters: 2,
            kernel_size: [1, 1],
            kernel_regularizer: { class_name: "L2", config: { l2: 0.01 } },
          },
        },
        { class_name: "MaxPool2D", config: { pool_size: [1, 1] } },
        { class_name: "Flatten" },
        { class_name: "BatchNormalization" },
        { class_name: "Activation", config: { activation: "silu" } },
        { class_name: "Dropout", config: { rate: 0.5 } },
        { class_name: "Dense", config: { units: 1, activation: "sigmoid", kernel_initializer: "he_normal" } },
      ],
    });
    expect(model.outputs[0].shape).toEqual([null, 1]);
    // Keras defaults that differ from tfjs's were applied.
    const lstm = model.layers.find((layer) => layer.getClassName() === "LSTM")!.getConfig();
    expect(lstm.recurrentActivation).toBe("sigmoid");
    // Glorot uniform, which tfjs serializes as its VarianceScaling form (tfjs's own default is Glorot normal).
    expect(lstm.kernelInitializer).toMatchObject({
      config: { scale: 1, mode: "fanAvg", distribution: "uniform" },
    });
  });

  it("refuses an unsupported layer with its path and the supported list", async () => {
    const error = await specError(
      buildModel(tf, {
        layers: [
          { class_name: "Dense", config: { units: 4, input_shape: [2] } },
          { class_name: "Dense", config: { units: 4 } },
          { class_name: "Lambda", config: { function: "lambda x: x" } },
        ],
      }),
    );
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0].path).toBe("/model/layers/2/class_name");
    expect(error.issues[0].message).toMatch(/^unsupported layer "Lambda"; supported: .*Dense.*LSTM/);
  });

  it("reports every bad config key, activation and Keras option tfjs lacks, at once", () => {
    const issues = checkModel({
      layers: [
        { class_name: "Dense", config: { units: 4, input_shape: [2], activation: "leaky_relu", unitz: 3 } },
        { class_name: "Conv1D", config: { filters: 2, kernel_size: 1, groups: 2 } },
        { class_name: "GRU", config: { units: 2 } },
      ],
    });
    expect(issues.map((issue) => issue.path)).toEqual([
      "/model/layers/0/config/activation",
      "/model/layers/0/config/unitz",
      "/model/layers/1/config/groups",
      "/model/layers/2/config/reset_after",
    ]);
    expect(issues[0].message).toContain('unsupported activation "leaky_relu"');
    expect(issues[1].message).toContain('unsupported config key "unitz" for Dense');
    expect(issues[3].message).toContain("set it to false");
  });

  it("refuses what tfjs cannot compute in the new layers and activations, with the path", () => {
    const issues = checkModel({
      layers: [
        { class_name: "Dense", config: { units: 4, input_shape: [2], activation: "exponential" } },
        { class_name: "ReLU", config: { negative_slope: 0.1, max_value: 6 } },
        { class_name: "ELU", config: { alpha: 0.5 } },
        { class_name: "LeakyReLU", config: { negative_slope: 0.1, alpha: 0.2 } },
        { class_name: "Reshape", config: { target_shape: [4, 1] } },
        { class_name: "Bidirectional", config: { layer: { class_name: "Dense", config: { units: 1 } } } },
        { class_name: "Bidirectional", config: { layer: { class_name: "LSTM", config: { units: 1 } } } },
        {
          class_name: "Bidirectional",
          config: {
            layer: { class_name: "LSTM", config: { units: 1 } },
            merge_mode: "max",
            backward_layer: { class_name: "LSTM", config: { units: 2, go_backwards: true } },
          },
        },
      ],
    });
    expect(issues.map((issue) => issue.path)).toEqual([
      "/model/layers/0/config/activation",
      "/model/layers/1/config/negative_slope",
      "/model/layers/2/config/alpha",
      "/model/layers/3/config/negative_slope",
      "/model/layers/5/config/layer/class_name",
      "/model/layers/7/config/backward_layer",
      "/model/layers/7/config/merge_mode",
    ]);
    expect(issues[0].message).toBe(
      'unsupported activation "exponential": tfjs 4.22 has no exponential activation',
    );
  });

  it("asks for the input shape when the first layer has none", () => {
    expect(checkModel({ layers: [{ class_name: "Dense", config: { units: 1 } }] })).toEqual([
      { path: "/model/layers/0/config/input_shape", message: expect.stringContaining("input_shape") },
    ]);
  });

  it("turns tfjs shape errors into a SpecError at /model", async () => {
    const error = await specError(
      buildModel(tf, {
        layers: [
          { class_name: "Dense", config: { units: 4, input_shape: [3] } },
          { class_name: "Conv2D", config: { filters: 1, kernel_size: 3 } },
        ],
      }),
    );
    expect(error.issues[0].path).toBe("/model");
    expect(error.issues[0].message).toMatch(/^the model cannot be built: /);
  });
});

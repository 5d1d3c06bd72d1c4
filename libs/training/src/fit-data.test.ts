import { readFileSync } from "node:fs";
import type { CompileSpec, DataSpec, FitSpec, ModelSpec } from "@plateau/contract";
import { describe, expect, it } from "vitest";
import { fitDataIssues, modelEnds } from "./fit-data";

const dense = (config: Record<string, unknown>) => ({ class_name: "Dense", config });
const classifier: ModelSpec = {
  layers: [
    dense({ units: 8, input_shape: [4] }),
    dense({ units: 3 }),
    { class_name: "Dropout", config: { rate: 0.1 } },
  ],
};
const sparse: CompileSpec = { optimizer: "adam", loss: "sparse_categorical_crossentropy" } as CompileSpec;

function issues(change: {
  model?: ModelSpec;
  compile?: CompileSpec;
  data?: unknown;
  fit?: Partial<FitSpec>;
}) {
  return fitDataIssues({
    model: change.model ?? classifier,
    compile: change.compile ?? sparse,
    data: (change.data ?? { source: "builtin", name: "iris" }) as DataSpec,
    fit: { epochs: 1, ...change.fit },
  });
}

describe("modelEnds", () => {
  it("reads the first input shape and the last Dense's units through shape-keeping layers", () => {
    expect(modelEnds(classifier)).toEqual({
      inputs: [{ name: "", shape: [4], path: "/model/layers/0/config/input_shape" }],
      units: { units: 3, path: "/model/layers/1/config/units" },
    });
    expect(modelEnds({ layers: [dense({ units: 2, input_dim: 5 })] }).inputs?.[0].shape).toEqual([5]);
  });

  it("reads images' shapes, and Keras JSON's inputs by name and its output Dense", () => {
    const conv = {
      layers: [
        { class_name: "Conv2D", config: { filters: 2, kernel_size: 3, input_shape: [8, 8, 1] } },
        { class_name: "Flatten", config: {} },
      ],
    };
    expect(modelEnds(conv)).toEqual({
      inputs: [{ name: "", shape: [8, 8, 1], path: "/model/layers/0/config/input_shape" }],
    });
    const functional = readFileSync(
      new URL("../fixtures/keras/keras3-functional.json", import.meta.url),
      "utf8",
    );
    expect(modelEnds({ keras_json: functional })).toEqual({
      inputs: [{ name: "image", shape: [8, 8, 1], path: '/model/keras_json (input "image")' }],
      units: { units: 2, path: "/model/keras_json (output layer units)" },
    });
    const sequential = readFileSync(
      new URL("../fixtures/keras/keras3-sequential.json", import.meta.url),
      "utf8",
    );
    expect(modelEnds({ keras_json: sequential })).toMatchObject({
      inputs: [{ name: "", shape: [12] }],
      units: { units: 4 },
    });
    expect(modelEnds({ keras_json: "{}" })).toEqual({});
  });
});

describe("N-dimensional and named inputs", () => {
  const cnn: ModelSpec = {
    layers: [
      { class_name: "Conv2D", config: { filters: 2, kernel_size: 3, input_shape: [4, 4, 1] } },
      { class_name: "Flatten", config: {} },
      dense({ units: 2 }),
    ],
  };
  const image = (value: number) => Array.from({ length: 4 }, () => Array.from({ length: 4 }, () => [value]));

  it("checks an image's shape against the model's input, and labels against its units", () => {
    expect(issues({ model: cnn, data: { source: "inline", x: [image(0), image(1)], y: [0, 1] } })).toEqual(
      [],
    );
    const wide = { source: "inline", x: [[image(0)], [image(1)]], y: [0, 1] };
    expect(issues({ model: cnn, data: wide })).toEqual([
      {
        path: "/model/layers/0/config/input_shape",
        message:
          "is [4,4,1], but the inline data has samples of shape [1,4,4,1]: the model's input must take [1,4,4,1]",
      },
    ]);
    expect(issues({ model: cnn, data: { source: "inline", x: [image(0)], y: [2] } })).toMatchObject([
      { path: "/data/y/0", message: expect.stringContaining("label 2 is outside [0, 2)") },
    ]);
  });

  it("matches x given by input name to a Functional model's inputs", () => {
    const functional = readFileSync(
      new URL("../fixtures/keras/keras3-functional.json", import.meta.url),
      "utf8",
    );
    const model = { keras_json: functional };
    const images = [image(0).map((row) => [...row, ...row]), image(1).map((row) => [...row, ...row])];
    const eight = (value: number) =>
      Array.from({ length: 8 }, () => Array.from({ length: 8 }, () => [value]));
    expect(
      issues({ model, data: { source: "inline", x: { image: [eight(0), eight(1)] }, y: [0, 1] } }),
    ).toEqual([]);
    expect(issues({ model, data: { source: "inline", x: [eight(0)], y: [0] } })).toEqual([]);
    expect(issues({ model, data: { source: "inline", x: { picture: [eight(0)] }, y: [0] } })).toEqual([
      { path: "/data/x/picture", message: "is not an input of the model; its inputs are image" },
      { path: "/data/x", message: 'has no samples for the model\'s input "image"' },
    ]);
    expect(issues({ model, data: { source: "inline", x: { image: images }, y: [0, 1] } })).toEqual([
      {
        path: '/model/keras_json (input "image")',
        message:
          'is [8,8,1], but the inline data for "image" has samples of shape [4,8,1]: the model\'s input must take [4,8,1]',
      },
    ]);
    expect(issues({ model, data: { source: "inline", x: [eight(0)], y: [5] } })[0]).toMatchObject({
      path: "/data/y/0",
    });
  });
});

describe("fitDataIssues", () => {
  it("accepts a model that fits its data", () => {
    expect(issues({})).toEqual([]);
    expect(issues({ data: { source: "builtin", name: "regression", features: 4 } })).toEqual([]);
  });

  it("reads a loss given as a Keras loss object", () => {
    const compile = { optimizer: "adam", loss: { class_name: "BinaryCrossentropy" } } as CompileSpec;
    expect(issues({ compile }).map((issue) => issue.path)).toEqual(["/compile/loss"]);
  });

  it("says a builtin's problem once when it is both training and validation data", () => {
    const model = { layers: [dense({ units: 2, input_shape: [4] })] };
    const data = { source: "builtin", name: "iris", validation: { source: "builtin", name: "iris" } };
    expect(issues({ model, data }).map((issue) => issue.path)).toEqual(["/model/layers/0/config/units"]);
  });

  it("checks a file's declared features, and a validation source's width at its own path", () => {
    const file = { source: "dataset", id: "d", label: "y", features: ["a", "b"] };
    expect(issues({ data: file }).map((issue) => issue.path)).toEqual(["/model/layers/0/config/input_shape"]);
    const data = { source: "builtin", name: "iris", validation: { source: "inline", x: [[1, 2]], y: [0] } };
    expect(issues({ data }).map((issue) => issue.path)).toEqual(["/data/validation"]);
  });

  it("takes one-hot rows' classes from their columns for class_weight", () => {
    const data = { source: "inline", x: [[1, 2, 3, 4]], y: [[0, 1, 0]] };
    const compile = { optimizer: "adam", loss: "categorical_crossentropy" } as CompileSpec;
    expect(issues({ data, compile, fit: { class_weight: { 0: 1, 2: 1 } } })).toEqual([]);
    expect(issues({ data, compile, fit: { class_weight: { 3: 1 } } }).map((issue) => issue.path)).toEqual([
      "/fit/class_weight/3",
    ]);
  });

  it("names the first few bad labels of many, then how many more", () => {
    const y = Array.from({ length: 10 }, () => 7);
    const data = { source: "inline", x: y.map(() => [1, 2, 3, 4]), y };
    expect(issues({ data }).map((issue) => issue.path)).toEqual([
      "/data/y/0",
      "/data/y/1",
      "/data/y/2",
      "/data/y",
    ]);
  });
});

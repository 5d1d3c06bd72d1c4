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
      input: { features: 4, path: "/model/layers/0/config/input_shape", shown: "[4]" },
      units: { units: 3, path: "/model/layers/1/config/units" },
    });
    expect(modelEnds({ layers: [dense({ units: 2, input_dim: 5 })] }).input?.features).toBe(5);
  });

  it("reads nothing it cannot read plainly: Keras JSON, images, a non-Dense output", () => {
    expect(modelEnds({ keras_json: "{}" })).toEqual({});
    const conv = {
      layers: [
        { class_name: "Conv2D", config: { filters: 2, kernel_size: 3, input_shape: [8, 8, 1] } },
        { class_name: "Flatten", config: {} },
      ],
    };
    expect(modelEnds(conv)).toEqual({});
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

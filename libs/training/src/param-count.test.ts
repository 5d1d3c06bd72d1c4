import type { ModelSpec } from "@plateau/contract";
import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend, type Tf } from "./backend";
import { countModelParams } from "./model";
import { countParamsWithoutBuilding } from "./param-count";

let tf: Tf;
beforeAll(async () => {
  tf = (await selectBackend("cpu")).tf;
});

const layer = (class_name: string, config: Record<string, unknown> = {}) => ({ class_name, config });
const model = (...layers: ReturnType<typeof layer>[]) => ({ layers }) as ModelSpec;

describe("counting parameters without building the model", () => {
  const counted: [string, ModelSpec][] = [
    ["Dense stack", model(layer("Dense", { units: 64, input_shape: [4] }), layer("Dense", { units: 3 }))],
    ["input_dim, no bias", model(layer("Dense", { units: 5, input_dim: 7, use_bias: false }))],
    [
      "InputLayer, Dense on a sequence, Flatten",
      model(
        layer("InputLayer", { shape: [6, 4] }),
        layer("Dense", { units: 8, activation: "relu" }),
        layer("Flatten"),
        layer("Dense", { units: 2 }),
      ),
    ],
    [
      "batch_input_shape, shape-preserving layers",
      model(
        layer("Dense", { units: 16, batch_input_shape: [null, 10] }),
        layer("Dropout", { rate: 0.5 }),
        layer("Activation", { activation: "tanh" }),
        layer("ReLU"),
        layer("LeakyReLU", { negative_slope: 0.1 }),
        layer("ELU"),
        layer("Dense", { units: 4 }),
        layer("Softmax"),
      ),
    ],
    [
      "BatchNormalization, with and without center and scale",
      model(
        layer("Dense", { units: 12, input_shape: [3] }),
        layer("BatchNormalization"),
        layer("BatchNormalization", { center: false }),
        layer("BatchNormalization", { scale: false, center: false }),
      ),
    ],
    [
      "Embedding",
      model(
        layer("Embedding", { input_dim: 100, output_dim: 8, input_shape: [5] }),
        layer("Flatten"),
        layer("Dense", { units: 1 }),
      ),
    ],
  ];

  it.each(counted)("%s: as many as tfjs counts once built", async (_name, spec) => {
    const counted = countParamsWithoutBuilding(spec);
    expect(counted).not.toBeNull();
    expect(counted).toBe(await countModelParams(tf, spec));
  });

  const built: [string, ModelSpec][] = [
    ["a convolution", model(layer("Conv2D", { filters: 2, kernel_size: 3, input_shape: [8, 8, 1] }))],
    ["a dimension left open", model(layer("Dense", { units: 2, input_shape: [null, 3] }))],
    // tfjs's Flatten wants at least two axes per sample: building says so.
    ["Flatten of a vector", model(layer("Dense", { units: 2, input_shape: [3] }), layer("Flatten"))],
    [
      "a shape on a later layer",
      model(layer("Dense", { units: 2, input_dim: 3 }), layer("Dense", { units: 1, input_dim: 2 })),
    ],
    [
      "named layers (tfjs refuses a name used twice)",
      model(layer("Dense", { units: 2, input_dim: 3, name: "d" }), layer("Dense", { units: 1, name: "d" })),
    ],
    ["Keras JSON", { keras_json: "{}" } as ModelSpec],
  ];

  it.each(built)("%s: left to building", (_name, spec) => {
    expect(countParamsWithoutBuilding(spec)).toBeNull();
  });
});
